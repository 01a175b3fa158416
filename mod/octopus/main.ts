/** The `octopus` role: the macvlan main plugin, loaded only when a runtime calls it. */
import type { Role } from "../role.ts";

/** octopus as the program's dispatcher sees it. */
export const role: Role = {
  name: "octopus",
  summary: "macvlan on the master interface that carries the pod's subnet",
  plugin: async () => (await import("./plugin.ts")).octopusPlugin,
  commands: {},
};
