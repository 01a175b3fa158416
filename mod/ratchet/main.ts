import { demoCommand } from "../demo/command.ts";
import type { Role } from "../role.ts";

/** The store flags as usage lines show them. */
export const STORE_USAGE = "[--store DIR | --etcd-endpoints URLS [--etcd-*-file F]]";

/** `ratchet`: the CNI plugin, and the topology commands of the DSL. Everything loads when used. */
export const role: Role = {
  name: "ratchet",
  summary: "isolated point-to-point links between pods: veth on one node, vxlan across nodes",
  plugin: async () => (await import("./plugin.ts")).ratchetPlugin,
  commands: {
    lint: {
      usage: "lint [--format text|json] FILE...",
      summary: "check topology files and print every problem, compiler style",
      run: async (args) => (await import("../../dsl/cli.ts")).lintCommand(args),
    },
    render: {
      usage: `render FILE --to pod-specs|store|cni-config|dot|svg [--node NODE] ${STORE_USAGE}`,
      summary:
        "print what a topology stands for: pod specs, store keys, a CNI config, or its picture (with a store, links coloured by state)",
      run: async (args) => (await import("../../dsl/cli.ts")).renderCommand(args),
    },
    apply: {
      usage: `apply FILE [--prune] ${STORE_USAGE}`,
      summary: "write a topology's nodes, pods, links, pools and gateways into the store",
      run: async (args) => (await import("./cli.ts")).apply(args),
    },
    status: {
      usage: `status [FILE] [--svg] ${STORE_USAGE}`,
      summary:
        "show what apply owns in the store and which links are up; with FILE, exit 1 when the store differs from it; --svg: the picture instead",
      run: async (args) => (await import("./cli.ts")).status(args),
    },
    demo: demoCommand,
  },
};
