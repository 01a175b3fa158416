import { refusingPlugin, type Role, runRole } from "../role.ts";

export const role: Role = {
  name: "anchor",
  summary: "etcd- or file-backed IPAM with per-namespace pools (hainesc/anchor compatible)",
  plugin: () => Promise.resolve(refusingPlugin("anchor is not implemented yet")),
  commands: {},
};

export function main(args: string[]): Promise<never> {
  return runRole(role, args);
}
