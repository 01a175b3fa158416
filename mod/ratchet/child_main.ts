import { lazy } from "../lazy.ts";
import { refusingPlugin, type Role } from "../role.ts";

const loadCli = lazy<typeof import("../cli.ts")>(new URL("../cli.ts", import.meta.url));
const loadWaiter = lazy<typeof import("./waiter_run.ts")>(new URL("./waiter_run.ts", import.meta.url));

/** `ratchet-child`: ratchet's per-node waiter, which finishes links whose peers arrive later. */
export const role: Role = {
  name: "ratchet-child",
  summary: "ratchet's background helper; ratchet starts it, people and runtimes do not",
  plugin: () =>
    Promise.resolve(
      refusingPlugin('ratchet-child is started by the ratchet plugin; configure type "ratchet" instead'),
    ),
  commands: {
    waiter: {
      usage: "waiter --node NODE   (the request comes on stdin)",
      summary: "finish the node's pending links as their peers arrive (ratchet runs this, one per node)",
      run: async (args) => {
        const [{ runCommand }, { waiterRun }] = await Promise.all([loadCli(), loadWaiter()]);
        return runCommand(() => waiterRun(args));
      },
    },
  },
};
