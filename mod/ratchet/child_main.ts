import { refusingPlugin, type Role } from "../role.ts";

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
        const [{ runCommand }, { waiterRun }] = await Promise.all([
          import("../cli.ts"),
          import("./waiter_run.ts"),
        ]);
        return runCommand(() => waiterRun(args));
      },
    },
  },
};
