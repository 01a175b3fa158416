import { refusingPlugin, type Role, runRole } from "../role.ts";

export const role: Role = {
  name: "ratchet",
  summary: "isolated point-to-point links between pods: veth on one node, vxlan across nodes",
  plugin: () => Promise.resolve(refusingPlugin("ratchet is not implemented yet")),
  commands: {},
};

export function main(args: string[]): Promise<never> {
  return runRole(role, args);
}
