/**
 * GC: what DEL would have done for containers the runtime no longer knows (it crashed, or lost a DEL),
 * for this network on this node, and the same GC for the nested plugins that speak CNI 1.1.
 */
import {
  CniError,
  compareVersions,
  configError,
  execPlugin,
  type Invocation,
  log,
  type NetConf,
  toCniError,
} from "../cni/mod.ts";
import type { Store } from "../store/mod.ts";
import { stopChild } from "./child.ts";
import type { RatchetConf } from "./conf.ts";
import { type ContainerRecord, KEY, parseRecord } from "./keys.ts";
import { unregister } from "./register.ts";
import { releaseEnds } from "./release.ts";

/** The attachments field: `cni.dev/valid-attachments`, or the 1.1.0 tag's `cni.dev/attachments`. */
function attachmentsField(netConf: NetConf): [string, unknown[]] {
  const field = netConf["cni.dev/valid-attachments"] !== undefined
    ? "cni.dev/valid-attachments"
    : "cni.dev/attachments";
  const list = netConf[field];
  if (!Array.isArray(list)) throw configError(field, "must be a list of {containerID, ifname}");
  return [field, list];
}

/** Releases stale containers' links and records, forwards GC, and reports every failure at the end. */
export async function collectGarbage(
  { conf, env, netConf }: Invocation<RatchetConf>,
  store: Store,
): Promise<void> {
  const [field, list] = attachmentsField(netConf);
  const live = new Set(
    list.map((a) => (a as { containerID?: unknown })?.containerID).filter((id) => typeof id === "string"),
  );
  const node = conf.nodeName ?? Deno.hostname();
  const errors: Error[] = [];
  for (const nested of [conf.delegate, conf.bootNetwork]) {
    // A plugin that speaks no CNI 1.1 has no GC; sending it one would only fail.
    if (!nested || compareVersions(nested.cniVersion, "1.1.0") < 0) continue;
    try {
      await execPlugin({ conf: { ...nested, [field]: list }, command: "GC", env });
    } catch (e) {
      errors.push(e as Error);
    }
  }
  const prefix = KEY.container("");
  for (const kv of await store.list(prefix)) {
    const id = kv.key.slice(prefix.length);
    const rec = parseRecord<ContainerRecord>(kv);
    if (!rec || live.has(id) || rec.node !== node || (rec.network ?? conf.name) !== conf.name) continue;
    try {
      if (rec.eligible && rec.pod) await stopChild(store, { namespace: rec.namespace, pod: rec.pod }, id);
      await releaseEnds(store, id, rec.netns);
      if (rec.eligible && rec.pod) await unregister(store, { namespace: rec.namespace, pod: rec.pod }, id);
      else await store.delete(kv.key);
      log.info("GC released a container the runtime no longer knows", { stale: id });
    } catch (e) {
      errors.push(Object.assign(e as Error, { message: `container ${id}: ${(e as Error).message}` }));
    }
  }
  if (errors.length) {
    // The first error's kind (an unreachable store: 11) decides the code; the details list every one.
    throw new CniError(
      toCniError(errors[0]).code,
      `GC finished with ${errors.length} failure(s)`,
      errors.map((e) => e.message).join("; "),
    );
  }
}
