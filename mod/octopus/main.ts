import { refusingPlugin, type Role, runRole } from "../role.ts";

export const role: Role = {
  name: "octopus",
  summary: "macvlan on the master interface that carries the pod's subnet",
  plugin: () => Promise.resolve(refusingPlugin("octopus is not implemented yet")),
  commands: {},
};

export function main(args: string[]): Promise<never> {
  return runRole(role, args);
}
