/**
 * The ratchet CNI plugin: ineligible pods go to `delegate`; eligible pods get `boot_network`, then
 * their point-to-point links on top (veth on one node, vxlan across nodes), a child finishing the
 * links whose peers have not arrived yet.
 */
import {
  appendResult,
  type CniEnv,
  CniError,
  ErrorCode,
  execPlugin,
  type Invocation,
  log,
  type Plugin,
  type Result,
  toCniError,
  toVersion,
} from "../cni/mod.ts";
import { LABELS } from "../links/mod.ts";
import { probeWritable, type Store, withStore } from "../store/mod.ts";
import { loadRatchetConf, type NestedConf, type RatchetConf } from "./conf.ts";
import { type AttachRecord, type ContainerRecord, KEY, parseRecord } from "./keys.ts";
import { podMeta } from "./pod_meta.ts";
import { containerRecord, recordContainer, register, unregister } from "./register.ts";
import type { PodRef } from "./resolve.ts";
import type { MadeEnd } from "./settle.ts";

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
      import("../netlink/mod.ts"),
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

async function add({ conf, env }: Invocation<RatchetConf>): Promise<Result> {
  const pod = podOf(env);
  return await withStore(conf.store, async (store) => {
    const meta = pod.name ? await podMeta(conf, store, pod.namespace, pod.name) : undefined;
    if (!meta?.eligible) {
      log.info("pod is not eligible; running the delegate", { pod: `${pod.namespace}/${pod.name ?? ""}` });
      const result = (await delegateCall(conf.delegate, "ADD", env))!;
      const record: ContainerRecord = {
        namespace: pod.namespace,
        pod: pod.name ?? "",
        ifname: env.ifname,
        netns: env.netns,
        eligible: false,
        node: conf.nodeName ?? Deno.hostname(),
        network: conf.name,
      };
      try {
        await recordContainer(store, env.containerId, record);
      } catch (e) {
        await delegateCall(conf.delegate, "DEL", env).catch(() => {});
        throw e;
      }
      return result;
    }
    if (meta.errors.length) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `pod ${pod.namespace}/${pod.name}: its ratchet ${
          meta.from === "store" ? "topology record" : "labels"
        } are invalid`,
        meta.errors.join("; "),
      );
    }
    return await addEligible(
      conf,
      env,
      store,
      {
        namespace: pod.namespace,
        pod: meta.labels[LABELS.podName] || pod.name!,
      },
      meta.nodeName ?? conf.nodeName ?? Deno.hostname(),
      meta.labels,
      meta.links,
    );
  });
}

async function addEligible(
  conf: RatchetConf,
  env: CniEnv,
  store: Store,
  self: PodRef,
  node: string,
  labels: Record<string, string>,
  links: AttachRecord["links"],
): Promise<Result> {
  const undo: (() => Promise<unknown>)[] = [];
  try {
    let result: Result = { cniVersion: conf.cniVersion };
    if (conf.bootNetwork) {
      result = (await delegateCall(conf.bootNetwork, "ADD", env))!;
      undo.push(() => delegateCall(conf.bootNetwork!, "DEL", env));
    }
    const parent = await nodeParent(conf, store, node);
    const wanted: AttachRecord = {
      container_id: env.containerId,
      netns: env.netns,
      node,
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
    const [{ settle }, { releaseEnds, sweepPrevious }, { hasLiveChild, spawnChild }] = await Promise.all([
      import("./settle.ts"),
      import("./release.ts"),
      import("./child.ts"),
    ]);
    const attach = await register(store, self, wanted, {
      namespace: self.namespace,
      pod: self.pod,
      ifname: env.ifname,
      netns: env.netns,
      eligible: true,
      node,
      network: conf.name,
    });
    undo.push(() => unregister(store, self, env.containerId));
    undo.push(() => releaseEnds(store, env.containerId, env.netns));
    if (attach.replaces) await sweepPrevious(store, attach.replaces, env.netns);
    const outcome = await settle({ conf, store, self, attach }, { claimWaitMs: ADD_CLAIM_WAIT_MS });
    if (outcome.failed.length) {
      const { link, error } = outcome.failed[0];
      const e = toCniError(error);
      throw new CniError(e.code, `link ${link.id}: ${e.msg}`, e.details);
    }
    // A pod that knows no link yet (the original's non-primary pod) waits to learn one from a peer.
    if (outcome.pending.length || outcome.links.length === 0) {
      if (!(await hasLiveChild(store, self, env.containerId))) {
        await spawnChild(store, conf.childPath, {
          conf: conf.raw,
          namespace: self.namespace,
          pod: self.pod,
          containerId: env.containerId,
          deadline: Date.now() + conf.childTimeoutMs,
        });
      }
    }
    log.info("links settled", { made: outcome.made.length, pending: outcome.pending.map((l) => l.id) });
    return appendResult(result, linksResult(outcome.made, env.netns, conf.cniVersion));
  } catch (e) {
    for (const step of undo.reverse()) {
      await step().catch((u) => log.warn(`rollback step failed: ${(u as Error).message}`));
    }
    throw e;
  }
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
    const [{ stopChild }, { releaseEnds }] = await Promise.all([
      import("./child.ts"),
      import("./release.ts"),
    ]);
    if (self.pod) await stopChild(store, self, env.containerId);
    await releaseEnds(store, env.containerId, env.netns || rec?.netns || "");
    if (conf.bootNetwork) await delegateCall(conf.bootNetwork, "DEL", env);
    // Records go last, so a DEL that failed above finds them again when retried.
    if (self.pod) await unregister(store, self, env.containerId);
    else await store.delete(KEY.container(env.containerId));
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
    const { checkEnds } = await import("./check.ts");
    const names = await checkEnds(store, env.containerId, env.netns);
    if (conf.bootNetwork) {
      const prev = netConf.prevResult && withoutInterfaces(netConf.prevResult, names);
      await delegateCall(conf.bootNetwork, "CHECK", env, prev);
    }
  });
}

async function gc(inv: Invocation<RatchetConf>): Promise<void> {
  const { collectGarbage } = await import("./gc.ts");
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
  add,
  del,
  check,
  gc,
  status,
};
