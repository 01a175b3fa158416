/**
 * The ratchet CNI plugin: ineligible pods go to `delegate`; eligible pods get `boot_network`, then
 * their point-to-point links on top (veth on one node, vxlan across nodes), a child finishing the
 * links whose peers have not arrived yet.
 */
import { appendResult, criResultProblem, type Result, toVersion } from "../cni/result.ts";
import type { CniEnv } from "../cni/env.ts";
import { CniError, ErrorCode, toCniError } from "../cni/errors.ts";
import { execPlugin } from "../cni/exec.ts";
import type { Invocation, Plugin } from "../cni/skel.ts";
import { log } from "../cni/log.ts";
import { LABELS } from "../links/types.ts";
import { lazy } from "../lazy.ts";
import { probeWritable, withStore } from "../store/with_store.ts";
import type { Store } from "../store/types.ts";
import { loadRatchetConf, type NestedConf, type RatchetConf } from "./conf.ts";
import { type AttachRecord, KEY, parseRecord } from "./keys.ts";
import { mapped } from "./errors.ts";
import { podMeta } from "./pod_meta.ts";
import { containerRecord, recordContainer, register, undoRegister } from "./register.ts";
import type { PodRef } from "./resolve.ts";
import type { MadeEnd } from "./settle.ts";

// CHECK's and GC's own code, unseen by Deno's start-up (mod/lazy.ts): ADD and DEL do not read it.
const loadCheck = lazy<typeof import("./check.ts")>(new URL("./check.ts", import.meta.url));
const loadGc = lazy<typeof import("./gc.ts")>(new URL("./gc.ts", import.meta.url));

/** How long ADD waits for a veth the peer's side claimed a moment earlier. */
const ADD_CLAIM_WAIT_MS = 10_000;

/** The pod's namespace and Kubernetes name from CNI_ARGS; no name means no metadata, so the delegate. */
function podOf(env: CniEnv): { namespace: string; name?: string } {
  return {
    namespace: env.args.get("K8S_POD_NAMESPACE") || "default",
    name: env.args.get("K8S_POD_NAME") || undefined,
  };
}

function delegateCall(conf: NestedConf, command: "ADD" | "DEL" | "CHECK", env: CniEnv, prevResult?: Result) {
  return execPlugin({
    conf: prevResult ? { ...conf, prevResult: toVersion(prevResult, conf.cniVersion) } : conf,
    command,
    env,
  });
}

/** This node's underlay: the config's fields, else the topology's node record, else the interface's address. */
async function nodeParent(conf: RatchetConf, store: Store, node: string) {
  let iface = conf.parentInterface, address = conf.parentAddress;
  if (!iface || !address) {
    const rec = parseRecord<{ parent_interface?: string; parent_address?: string }>(
      await store.get(KEY.node(node)),
    );
    iface ||= rec?.parent_interface ?? "";
    address ||= rec?.parent_address ?? "";
  }
  if (!address && iface) {
    const [{ Handle }, { underlayAddress }] = await Promise.all([
      import("../netlink/handle.ts"),
      import("./plumb.ts"),
    ]);
    const h = Handle.open();
    try {
      address = underlayAddress(h, iface) ?? "";
    } finally {
      h.close();
    }
  }
  return { iface, address };
}

function linksResult(made: MadeEnd[], netns: string, cniVersion: string): Result {
  return {
    cniVersion,
    interfaces: made.map((m) => ({ name: m.link.local.ifname, mac: m.mac, mtu: m.mtu, sandbox: netns })),
    ips: made.flatMap((m, i) => (m.link.local.ip ? [{ address: m.link.local.ip, interface: i }] : [])),
  };
}

/** Everything one eligible ADD works from, resolved once. */
interface AddRequest {
  conf: RatchetConf;
  env: CniEnv;
  store: Store;
  /** The pod as links name it. */
  self: PodRef;
  labels: Record<string, string>;
  links: AttachRecord["links"];
}

async function add({ conf, env }: Invocation<RatchetConf>): Promise<Result> {
  const pod = podOf(env);
  return await withStore(conf.store, async (store) => {
    const meta = pod.name ? await podMeta(conf, store, pod.namespace, pod.name) : undefined;
    if (!meta?.eligible) return await addIneligible(conf, env, store);
    if (meta.errors.length) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `pod ${pod.namespace}/${pod.name}: its ratchet ${
          meta.from === "store" ? "topology record" : "labels"
        } are invalid`,
        meta.errors.join("; "),
      );
    }
    if (meta.nodeName && meta.nodeName !== conf.node) {
      log.warn("the pod's spec.nodeName is not this node's name; set kubernetes.node_name to it", {
        spec_node: meta.nodeName,
        node: conf.node,
      });
    }
    return await addEligible({
      conf,
      env,
      store,
      self: { namespace: pod.namespace, pod: meta.labels[LABELS.podName] || pod.name! },
      labels: meta.labels,
      links: meta.links,
    });
  });
}

/** A pod ratchet does not handle: the delegate's ADD, and a record so that DEL finds the delegate again. */
async function addIneligible(conf: RatchetConf, env: CniEnv, store: Store): Promise<Result> {
  const pod = podOf(env);
  log.info("pod is not eligible; running the delegate", { pod: `${pod.namespace}/${pod.name ?? ""}` });
  await using stack = new AsyncDisposableStack();
  const result = (await delegateCall(conf.delegate, "ADD", env))!;
  undoing(stack, "delegate DEL", () => delegateCall(conf.delegate, "DEL", env));
  await recordContainer(store, env.containerId, {
    namespace: pod.namespace,
    pod: pod.name ?? "",
    ifname: env.ifname,
    netns: env.netns,
    eligible: false,
    node: conf.node,
    network: conf.name,
    created: new Date().toISOString(),
  });
  stack.move();
  return result;
}

/** Rollback beside a step: runs when the ADD fails, logs (never throws) its own failure. */
function undoing(stack: AsyncDisposableStack, what: string, step: () => Promise<unknown>): void {
  stack.defer(async () => {
    try {
      await step();
    } catch (e) {
      log.warn(`rollback: ${what} failed: ${(e as Error).message}`);
    }
  });
}

/**
 * An eligible pod: boot network, registration, the links whose peers are here, the waiting work for
 * the rest. Each step's undo sits beside it and covers only what this invocation made, so a
 * retried ADD that fails leaves the earlier, live ADD's interfaces, records and processes alone.
 */
async function addEligible({ conf, env, store, self, labels, links }: AddRequest): Promise<Result> {
  await using stack = new AsyncDisposableStack();
  let result: Result = { cniVersion: conf.cniVersion };
  if (conf.bootNetwork) {
    result = (await delegateCall(conf.bootNetwork, "ADD", env))!;
    undoing(stack, "boot_network DEL", () => delegateCall(conf.bootNetwork!, "DEL", env));
  }
  const parent = await nodeParent(conf, store, conf.node);
  const wanted: AttachRecord = {
    container_id: env.containerId,
    netns: env.netns,
    node: conf.node,
    parent_interface: parent.iface,
    parent_address: parent.address,
    links,
  };
  for (
    const [field, label] of [["public_ip", LABELS.publicIp], ["target_pod", LABELS.targetPod], [
      "target_container",
      LABELS.targetContainer,
    ]] as const
  ) {
    if (labels[label]) wanted[field] = labels[label];
  }
  const [{ settle }, { releaseEnd, sweepPrevious, openIfExists }, { ensureWaiter, recordWaiting }] =
    await Promise
      .all([import("./settle.ts"), import("./release.ts"), import("./waiter.ts")]);
  const reg = await register(store, self, wanted, {
    namespace: self.namespace,
    pod: self.pod,
    ifname: env.ifname,
    netns: env.netns,
    eligible: true,
    node: conf.node,
    network: conf.name,
    created: new Date().toISOString(),
  });
  undoing(stack, "registration", () => undoRegister(store, self, reg));
  if (reg.record.replaces) await sweepPrevious(store, reg.record.replaces, env.netns);
  const outcome = await settle(
    { vniStart: conf.vniStart, store, self, attach: reg.record },
    { claimWaitMs: ADD_CLAIM_WAIT_MS },
  );
  for (const m of outcome.made.filter((m) => m.created)) {
    undoing(stack, `link end ${m.link.local.ifname}`, async () => {
      const h = openIfExists(env.netns);
      try {
        await releaseEnd(store, env.containerId, m.link.local.ifname, h);
      } finally {
        h?.close();
      }
    });
  }
  if (outcome.failed.length) {
    const { link, error } = outcome.failed[0];
    const e = toCniError(error);
    throw new CniError(e.code, `link ${link.id}: ${e.msg}`, e.details);
  }
  // The node's waiter finishes the rest: links whose peers are not here, vxlan ends whose peer's end
  // is not up yet (the VNI may still move), and a pod that knows no link yet (the original's
  // non-primary pod learns its link from a peer).
  if (outcome.pending.length || outcome.following.length || outcome.links.length === 0) {
    if (await recordWaiting(store, conf, self, env.containerId)) {
      undoing(stack, "waiting work", () => store.delete(KEY.wait(conf.node, env.containerId)));
    }
    await ensureWaiter(store, conf);
  }
  log.info("links settled", { made: outcome.made.length, pending: outcome.pending.map((l) => l.id) });
  stack.move();
  const out = appendResult(result, linksResult(outcome.made, env.netns, conf.cniVersion));
  const criProblem = criResultProblem(out, env.ifname);
  if (criProblem) {
    log.warn(`${criProblem}; give boot_network a plugin that makes ${env.ifname} (bridge, ptp)`);
  }
  return out;
}

/** Eligibility of a container ADD left no record of: asked again, and "not ours" when nobody can say. */
async function guessEligible(conf: RatchetConf, store: Store, env: CniEnv): Promise<boolean> {
  const pod = podOf(env);
  if (!pod.name) return false;
  try {
    return (await podMeta(conf, store, pod.namespace, pod.name)).eligible;
  } catch (e) {
    log.warn(`DEL cannot tell whether the pod was eligible; running the delegate`, {
      error: (e as Error).message,
    });
    return false;
  }
}

async function del({ conf, env }: Invocation<RatchetConf>): Promise<void> {
  await withStore(conf.store, async (store) => {
    const rec = await containerRecord(store, env.containerId);
    const eligible = rec ? rec.eligible : await guessEligible(conf, store, env);
    if (!eligible) {
      await delegateCall(conf.delegate, "DEL", env);
      await store.delete(KEY.container(env.containerId));
      return;
    }
    const pod = podOf(env);
    const self = rec
      ? { namespace: rec.namespace, pod: rec.pod }
      : { namespace: pod.namespace, pod: pod.name ?? "" };
    const [{ stopWaiting }, { teardown }] = await Promise.all([
      import("./waiter.ts"),
      import("./release.ts"),
    ]);
    await teardown(store, {
      self,
      containerId: env.containerId,
      netns: env.netns || rec?.netns || "",
      stopWaiting: () => stopWaiting(store, conf, rec?.node ?? conf.node, env.containerId),
      beforeRecord: async () => {
        if (conf.bootNetwork) await delegateCall(conf.bootNetwork, "DEL", env);
      },
    });
  });
}

/** prevResult without the link interfaces (and their addresses), for the boot network's CHECK. */
function withoutInterfaces(prev: Result, names: Set<string>): Result {
  const kept = (prev.interfaces ?? []).map((iface, i) => ({ iface, i })).filter((x) =>
    !names.has(x.iface.name)
  );
  const index = new Map(kept.map((x, j) => [x.i, j]));
  return {
    ...prev,
    interfaces: kept.map((x) => x.iface),
    ips: (prev.ips ?? [])
      .filter((ip) => ip.interface === undefined || index.has(ip.interface))
      .map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: index.get(ip.interface) })),
  };
}

async function check({ conf, env, netConf }: Invocation<RatchetConf>): Promise<void> {
  await withStore(conf.store, async (store) => {
    const rec = await containerRecord(store, env.containerId);
    if (!rec) {
      throw new CniError(
        ErrorCode.CheckFailed,
        `CHECK: ratchet has no record of container ${env.containerId}`,
      );
    }
    if (!rec.eligible) {
      await delegateCall(conf.delegate, "CHECK", env, netConf.prevResult);
      return;
    }
    const { checkEnds } = await loadCheck();
    const names = await checkEnds(store, env.containerId, env.netns, rec.node);
    if (conf.bootNetwork) {
      const prev = netConf.prevResult && withoutInterfaces(netConf.prevResult, names);
      await delegateCall(conf.bootNetwork, "CHECK", env, prev);
    }
  });
}

async function gc(inv: Invocation<RatchetConf>): Promise<void> {
  const { collectGarbage } = await loadGc();
  await withStore(inv.conf.store, (store) => collectGarbage(inv, store));
}

/**
 * STATUS (CNI 1.1): ratchet can serve ADD when its store answers, else code 50. The nested plugins
 * are main plugins, not IPAM, so the spec does not ask for their STATUS (and Debian's answer it badly).
 */
async function status({ conf }: Invocation<RatchetConf>): Promise<void> {
  try {
    await withStore(conf.store, probeWritable);
  } catch (e) {
    throw new CniError(ErrorCode.StatusNotAvailable, `the store is unavailable: ${(e as Error).message}`);
  }
}

/** The plugin the dispatcher runs for `ratchet`. */
export const ratchetPlugin: Plugin<RatchetConf> = {
  loadConf: (netConf) => loadRatchetConf(netConf),
  add: (inv) => mapped(() => add(inv)),
  del: (inv) => mapped(() => del(inv)),
  check: (inv) => mapped(() => check(inv)),
  gc: (inv) => mapped(() => gc(inv)),
  status: (inv) => mapped(() => status(inv)),
};
