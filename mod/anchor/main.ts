import { installCommand, uninstallCommand } from "../install/command.ts";
import { monkeyCommand } from "../monkey/command.ts";
import { lazy } from "../lazy.ts";
import type { Role } from "../role.ts";

// Each loaded only when it runs, and unseen by Deno's start-up (mod/lazy.ts): an ADD loads the plugin alone.
const loadPlugin = lazy<typeof import("./plugin.ts")>(new URL("./plugin.ts", import.meta.url));
const commands = {
  ls: lazy<typeof import("./commands/ls.ts")>(new URL("./commands/ls.ts", import.meta.url)),
  pool: lazy<typeof import("./commands/pool.ts")>(new URL("./commands/pool.ts", import.meta.url)),
  gw: lazy<typeof import("./commands/gw.ts")>(new URL("./commands/gw.ts", import.meta.url)),
  release: lazy<typeof import("./commands/release.ts")>(new URL("./commands/release.ts", import.meta.url)),
  store: lazy<typeof import("./commands/store.ts")>(new URL("./commands/store.ts", import.meta.url)),
};

/** The `anchor` role: the IPAM plugin and the commands that manage its pools, gateways and allocations. */
export const role: Role = {
  name: "anchor",
  summary: "etcd- or file-backed IPAM with per-namespace pools (hainesc/anchor compatible).\n" +
    "STORE FLAGS: --store DIR (embedded SQLite store DIR/store.db), or --etcd-endpoints URLS [--etcd-cert-file F --etcd-key-file F --etcd-ca-cert-file F]",
  plugin: async () => (await loadPlugin()).anchorPlugin,
  commands: {
    ls: {
      usage: "ls [--json] [STORE FLAGS]",
      summary:
        "list allocations: container, interface, address, pod, namespace, controller, node, network, time",
      run: async (args) => (await commands.ls()).ls(args),
    },
    pool: {
      usage: "pool set NAMESPACE RANGES | pool ls [--json] [STORE FLAGS]",
      summary: "set or list the namespaces' address pools (RANGES like 10.0.1.[2-9],10.0.2.8)",
      run: async (args) => (await commands.pool()).pool(args),
    },
    gw: {
      usage: "gw set SUBNET GATEWAY | gw ls [--json] [STORE FLAGS]",
      summary: "set or list the subnets' gateways",
      run: async (args) => (await commands.gw()).gw(args),
    },
    release: {
      usage: "release CONTAINER_ID [--ifname IFNAME] [STORE FLAGS]",
      summary: "release a container's addresses (all of them, or one interface's)",
      run: async (args) => (await commands.release()).releaseCommand(args),
    },
    store: {
      usage: "store dump [--json] [STORE FLAGS]",
      summary: "print every key of the store with its value and revisions (both backends)",
      run: async (args) => (await commands.store()).storeCommand(args),
    },
    monkey: monkeyCommand,
    install: installCommand,
    uninstall: uninstallCommand,
  },
};
