/**
 * Running the IPAM plugin for octopus. anchor runs in this process (no second program start, one
 * process per pod); any other type is exec'd from CNI_PATH as the spec has it (host-local, static,
 * dhcp), the whole network config on its stdin as libcni passes it.
 */
import { execPlugin, supportedVersions } from "../cni/exec.ts";
import type { Invocation } from "../cni/skel.ts";
import type { Result } from "../cni/result.ts";
import type { OctopusConf } from "./config.ts";

type Verb = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS";

/** IPAM ADD's answer, and whether this ADD made the allocation (false: it was already held). */
export interface IpamAdd {
  result: Result;
  created: boolean;
}

async function runIpam(inv: Invocation<OctopusConf>, command: "ADD"): Promise<IpamAdd>;
async function runIpam(inv: Invocation<OctopusConf>, command: Exclude<Verb, "ADD">): Promise<void>;
async function runIpam(inv: Invocation<OctopusConf>, command: Verb): Promise<IpamAdd | void> {
  if (inv.conf.ipam.type === "anchor") {
    const { anchorIpam } = await import("../anchor/plugin.ts");
    const anchor = await anchorIpam(inv.netConf, inv.env);
    switch (command) {
      case "ADD": {
        const { result, reused } = await anchor.add();
        return { result, created: !reused };
      }
      case "DEL":
        return void await anchor.del();
      case "CHECK":
        return void await anchor.check();
      case "GC":
        return void await anchor.gc();
      case "STATUS":
        return void await anchor.status();
    }
  }
  // The IPAM plugin reads its own `ipam` section out of the whole config, as with ipam.ExecAdd.
  // prevResult stays out: IPAM plugins do not read it, and ours is already in the newest shape,
  // which an older-versioned plugin could misread.
  const { prevResult: _, ...conf } = inv.netConf;
  const req = { plugin: inv.conf.ipam.type, conf, env: inv.env };
  // An IPAM plugin older than CNI 1.1 has no STATUS (Debian's host-local); it is then always available.
  if (command === "STATUS" && !(await supportedVersions(req)).includes("1.1.0")) return undefined;
  const result = await execPlugin({ ...req, command });
  // An exec'd IPAM plugin cannot say whether it made the allocation now; the reference ones
  // (host-local, static) refuse a second ADD for the same container and interface instead of
  // returning the held address, so an answer here is one this ADD made.
  if (command === "ADD") return { result: result!, created: true };
}

/**
 * IPAM ADD: the addresses, routes and DNS for the pod, and whether this ADD made the allocation
 * (a repeated ADD gets anchor's held address back, which its rollback must leave alone).
 */
export async function ipamAdd(inv: Invocation<OctopusConf>): Promise<IpamAdd> {
  return await runIpam(inv, "ADD");
}

/** IPAM DEL: releases the pod's allocation; an allocation that is already gone is not an error. */
export async function ipamDel(inv: Invocation<OctopusConf>): Promise<void> {
  await runIpam(inv, "DEL");
}

/** IPAM CHECK: the allocation still exists (anchor also compares it with prevResult). */
export async function ipamCheck(inv: Invocation<OctopusConf>): Promise<void> {
  await runIpam(inv, "CHECK");
}

/** IPAM GC: forwarded, as the spec asks of a plugin with a delegate. */
export async function ipamGc(inv: Invocation<OctopusConf>): Promise<void> {
  await runIpam(inv, "GC");
}

/** IPAM STATUS: octopus can serve ADD exactly when its IPAM can. */
export async function ipamStatus(inv: Invocation<OctopusConf>): Promise<void> {
  await runIpam(inv, "STATUS");
}
