import { installCommand, uninstallCommand } from "../install/command.ts";
import { monkeyCommand } from "../monkey/command.ts";
import type { Role } from "../role.ts";

/** The `anchor` role: the IPAM plugin and the commands that manage its pools, gateways and allocations. */
export const role: Role = {
  name: "anchor",
  summary: "etcd- or file-backed IPAM with per-namespace pools (hainesc/anchor compatible).\n" +
    "STORE FLAGS: --store DIR (embedded SQLite store DIR/store.db), or --etcd-endpoints URLS [--etcd-cert-file F --etcd-key-file F --etcd-ca-cert-file F]",
  plugin: async () => (await import("./plugin.ts")).anchorPlugin,
  commands: {
    ls: {
      usage: "ls [--json] [STORE FLAGS]",
      summary:
        "list allocations: container, interface, address, pod, namespace, controller, node, network, time",
      run: async (args) => (await import("./commands/ls.ts")).ls(args),
    },
    pool: {
      usage: "pool set NAMESPACE RANGES | pool ls [--json] [STORE FLAGS]",
      summary: "set or list the namespaces' address pools (RANGES like 10.0.1.[2-9],10.0.2.8)",
      run: async (args) => (await import("./commands/pool.ts")).pool(args),
    },
    gw: {
      usage: "gw set SUBNET GATEWAY | gw ls [--json] [STORE FLAGS]",
      summary: "set or list the subnets' gateways",
      run: async (args) => (await import("./commands/gw.ts")).gw(args),
    },
    release: {
      usage: "release CONTAINER_ID [--ifname IFNAME] [STORE FLAGS]",
      summary: "release a container's addresses (all of them, or one interface's)",
      run: async (args) => (await import("./commands/release.ts")).releaseCommand(args),
    },
    store: {
      usage: "store dump [--json] [STORE FLAGS]",
      summary: "print every key of the store with its value and revisions (both backends)",
      run: async (args) => (await import("./commands/store.ts")).storeCommand(args),
    },
    monkey: monkeyCommand,
    install: installCommand,
    uninstall: uninstallCommand,
  },
};
