/**
 * The anchor IPAM plugin: load the config, then per verb one call into mod/ipam over the store.
 *
 * Octopus (or any main plugin in this program) can run it in process instead of exec'ing it:
 *
 * @example
 * ```ts
 * const { anchorIpam } = await import("../anchor/plugin.ts");
 * const ipam = await anchorIpam(netConf, env);   // netConf.ipam is anchor's section
 * const { result, reused } = await ipam.add();   // ips, routes, dns; no interfaces
 * // on a later failure (only when !reused: a held address belongs to the ADD that made it), or for DEL:
 * await ipam.del();
 * ```
 */
// Each from its own module, not the barrels: every module costs a plugin process about 0.5 ms to load.
import type { CniEnv } from "../cni/env.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { log } from "../cni/log.ts";
import type { Result } from "../cni/result.ts";
import { configError, type Invocation, type NetConf, type Plugin } from "../cni/skel.ts";
import { formatCidr } from "../ip/cidr.ts";
import { formatRange } from "../ip/ranges.ts";
import { ipEquals, tryParseIp } from "../ip/addr.ts";
import { describeSettings } from "../store/settings.ts";
import { probeWritable, withStore } from "../store/with_store.ts";
import { allocate } from "../ipam/allocate.ts";
import { release } from "../ipam/release.ts";
import { findRecord, readState } from "../ipam/state.ts";
import { podNetwork } from "./annotations.ts";
import { type AnchorConf, loadAnchorConf } from "./config.ts";
import { anchorCniError, mapped } from "./errors.ts";
import { podInfo } from "./pod.ts";
import { ipamResult } from "./result.ts";
import { lazy } from "../lazy.ts";

// GC's own code, unseen by Deno's start-up (mod/lazy.ts): ADD and DEL do not read it.
const loadCniGc = lazy<typeof import("../cni/gc.ts")>(new URL("../cni/gc.ts", import.meta.url));
const loadIpamGc = lazy<typeof import("../ipam/gc.ts")>(new URL("../ipam/gc.ts", import.meta.url));

/**
 * ADD allocates the first free address of the pod namespace's pool in the pod's subnet (atomically, and
 * the same one again for a repeated ADD); DEL releases it; CHECK compares the store with prevResult;
 * GC releases this node's allocations of this network that are not valid attachments.
 */
export const anchorPlugin: Plugin<AnchorConf> = {
  loadConf: (netConf, env) => mapped(() => Promise.resolve(loadAnchorConf(netConf, env))),
  add: (inv) => mapped(async () => (await add(inv)).result),
  del: (inv) => mapped(() => del(inv)),
  check: (inv) => mapped(() => check(inv)),
  gc: (inv) => mapped(() => gc(inv)),
  status: (inv) => mapped(() => status(inv)),
};

/** What ADD did: the result, and whether the address was already held (a repeated ADD) rather than made now. */
export interface AnchorAdd {
  result: Result;
  /**
   * True when the container's interface already held the address: this ADD created nothing, so a
   * caller rolling back its own failure must not release it (the ADD that made it is still live).
   */
  reused: boolean;
}

async function add({ conf, netConf, env }: Invocation<AnchorConf>): Promise<AnchorAdd> {
  const pod = await podInfo(conf, netConf, env);
  const net = podNetwork(pod);
  return await withStore(conf.store, async (store) => {
    const a = await allocate(store, {
      containerId: env.containerId,
      ifname: env.ifname,
      namespace: pod.namespace,
      podName: pod.name,
      controller: pod.controller,
      subnet: net.subnet,
      gateway: net.gateway,
      node: conf.node,
      network: conf.network,
    });
    if (a.skipped.length) {
      log.warn(
        `pool of namespace ${pod.namespace} has addresses outside subnet ${
          formatCidr(a.subnet)
        }; they were skipped`,
        {
          skipped: a.skipped.map(formatRange),
        },
      );
    }
    log.info(a.reused ? "address already held" : "address allocated", {
      ip: a.record.ip,
      namespace: pod.namespace,
      pod: pod.name,
      attempts: a.attempts,
    });
    return { result: ipamResult(netConf.cniVersion, a, net, conf), reused: a.reused };
  });
}

/** Needs only the store: the pod, its annotations and the Kubernetes API may all be gone by now. */
async function del({ conf, env }: Invocation<AnchorConf>): Promise<void> {
  const released = await withStore(conf.store, (store) => release(store, env.containerId, env.ifname));
  log.info(released.length ? "address released" : "nothing to release", { ips: released.map((r) => r.ip) });
}

async function check({ conf, netConf, env }: Invocation<AnchorConf>): Promise<void> {
  const prev = netConf.prevResult;
  if (!prev) throw configError("prevResult", "is required for CHECK");
  const state = await withStore(conf.store, readState);
  const held = findRecord(state, env.containerId, env.ifname);
  if (!held) {
    throw new CniError(
      ErrorCode.CheckFailed,
      `no allocation for container ${env.containerId} interface ${env.ifname} in ${
        describeSettings(conf.store)
      }`,
    );
  }
  const addresses = (prev.ips ?? []).map((ip) => ip.address.split("/")[0]);
  if (!addresses.some((a) => sameAddress(a, held.record.ip))) {
    throw new CniError(
      ErrorCode.CheckFailed,
      `the store holds ${held.record.ip} for container ${env.containerId} interface ${env.ifname}, but prevResult has ${
        addresses.join(", ") || "no address"
      }`,
    );
  }
}

async function gc({ conf, netConf }: Invocation<AnchorConf>): Promise<void> {
  const [{ validAttachments }, { collectGarbage }] = await Promise.all([loadCniGc(), loadIpamGc()]);
  const valid = validAttachments(netConf).attachments;
  const report = await withStore(
    conf.store,
    (store) =>
      collectGarbage(store, {
        node: conf.node,
        network: conf.network,
        valid,
        isYoung: (t) => conf.gcGrace.isYoung(t),
      }),
  );
  log.info("gc done", {
    released: report.released.map((r) => `${r.id}=${r.ip}`),
    // Not listed, but too young to be garbage: their ADD may still be in flight.
    young: report.young.map((r) => r.id),
    orphanGuards: report.orphanGuards,
    errors: report.errors.length,
  });
  if (report.errors.length) {
    // The first error's kind (say, an unreachable store: 11) decides the code; the message lists every one.
    throw new CniError(
      anchorCniError(report.errors[0]).code,
      `GC released ${report.released.length} allocations but failed ${report.errors.length}`,
      report.errors.map((e) => e.message).join("; "),
    );
  }
}

/**
 * Ready when the store takes a write (a probe under a reserved key): a read-only or full disk still
 * answers reads, yet no ADD could succeed. Anchor needs nothing else to serve ADD.
 */
async function status({ conf }: Invocation<AnchorConf>): Promise<void> {
  try {
    await withStore(conf.store, probeWritable);
  } catch (e) {
    throw new CniError(ErrorCode.StatusNotAvailable, `the store is unavailable: ${(e as Error).message}`);
  }
}

/** Compares address text by value: prevResult may spell an IPv6 address differently from the store. */
function sameAddress(a: string, b: string): boolean {
  const x = tryParseIp(a), y = tryParseIp(b);
  return x !== undefined && y !== undefined && ipEquals(x, y);
}

/** anchor bound to one invocation's config and environment, for a main plugin calling it in process. */
export interface AnchorIpam {
  /**
   * Allocates (or returns the held) address: an IPAM result with ips, routes and dns, and whether
   * the address was already held, in which case a rollback of the caller's ADD must leave it.
   */
  add(): Promise<AnchorAdd>;
  /** Releases the address; succeeds when there is nothing to release. */
  del(): Promise<void>;
  /** Compares the store with `netConf.prevResult`; throws CniError 105 on a difference. */
  check(): Promise<void>;
  /** Releases allocations not in `netConf["cni.dev/valid-attachments"]`. */
  gc(): Promise<void>;
  /** Throws CniError 50 when the store does not answer. */
  status(): Promise<void>;
}

/**
 * Loads anchor's config from `netConf` (its `ipam` section holds anchor's fields) and binds the verbs.
 * Errors are CniErrors with anchor's codes, as if anchor had been exec'd.
 */
export async function anchorIpam(netConf: NetConf, env: CniEnv): Promise<AnchorIpam> {
  const conf = await anchorPlugin.loadConf(netConf, env);
  const inv = { conf, netConf, env };
  return {
    add: () => mapped(() => add(inv)),
    del: () => anchorPlugin.del(inv),
    check: () => anchorPlugin.check(inv),
    gc: () => anchorPlugin.gc!(inv),
    status: () => anchorPlugin.status!(inv),
  };
}
