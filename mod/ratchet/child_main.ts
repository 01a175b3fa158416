import { refusingPlugin, type Role } from "../role.ts";

/** `ratchet-child`: ratchet's helper process, which finishes a link when the peer pod arrives later. */
export const role: Role = {
  name: "ratchet-child",
  summary: "ratchet's background helper; ratchet starts it, people and runtimes do not",
  plugin: () =>
    Promise.resolve(
      refusingPlugin('ratchet-child is started by the ratchet plugin; configure type "ratchet" instead'),
    ),
  commands: {
    wait: {
      usage: "wait --container ID --pod NAMESPACE/NAME   (the request comes on stdin)",
      summary: "wait for the pod's peers and make its links as they arrive (ratchet runs this)",
      run: async (args) => {
        const [{ runCommand }, { childWait }] = await Promise.all([
          import("../cli.ts"),
          import("./child_run.ts"),
        ]);
        return runCommand(() => childWait(args));
      },
    },
  },
};
