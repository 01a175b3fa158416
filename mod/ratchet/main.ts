import { lazy } from "../lazy.ts";
import type { Role } from "../role.ts";

/** The store flags as usage lines show them. */
export const STORE_USAGE = "[--store DIR | --etcd-endpoints URLS [--etcd-*-file F]]";

// Each loaded only when it runs, and unseen by Deno's start-up (mod/lazy.ts): a literal import() here
// would make every ADD read the DSL, the picture, the demo and the Kubernetes client (about 80 modules).
const loadPlugin = lazy<typeof import("./plugin.ts")>(new URL("./plugin.ts", import.meta.url));
const loadDsl = lazy<typeof import("../../dsl/cli.ts")>(new URL("../../dsl/cli.ts", import.meta.url));
const loadCli = lazy<typeof import("./cli.ts")>(new URL("./cli.ts", import.meta.url));
const loadDemo = lazy<typeof import("../demo/command.ts")>(new URL("../demo/command.ts", import.meta.url));

/** `ratchet`: the CNI plugin, and the topology commands of the DSL. Everything loads when used. */
export const role: Role = {
  name: "ratchet",
  summary: "isolated point-to-point links between pods: veth on one node, vxlan across nodes",
  plugin: async () => (await loadPlugin()).ratchetPlugin,
  commands: {
    lint: {
      usage: "lint [--format text|json] FILE...",
      summary: "check topology files and print every problem, compiler style",
      run: async (args) => (await loadDsl()).lintCommand(args),
    },
    render: {
      usage: `render FILE --to pod-specs|store|cni-config|dot|svg [--node NODE] ${STORE_USAGE}`,
      summary:
        "print what a topology stands for: pod specs, store keys, a CNI config, or its picture (with a store, links coloured by state)",
      run: async (args) => (await loadDsl()).renderCommand(args),
    },
    apply: {
      usage: `apply FILE [--prune] ${STORE_USAGE}`,
      summary: "write a topology's nodes, pods, links, pools and gateways into the store",
      run: async (args) => (await loadCli()).apply(args),
    },
    status: {
      usage: `status [FILE] [--svg] ${STORE_USAGE}`,
      summary:
        "show what apply owns in the store and which links are up; with FILE, exit 1 when the store differs from it; --svg: the picture instead",
      run: async (args) => (await loadCli()).status(args),
    },
    demo: {
      usage: "demo [--keep] | demo down",
      summary:
        "build a two-node lab in network namespaces (octopus+anchor, ratchet veth and vxlan, a delegate), " +
        "show it working, and tear it down",
      run: async (args) => (await loadDemo()).demo(args),
    },
  },
};
