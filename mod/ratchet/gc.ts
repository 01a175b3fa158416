/**
 * GC: what DEL would have done for containers the runtime no longer knows (it crashed, or lost a DEL),
 * for this network on this node, and the same GC for the nested plugins that speak CNI 1.1.
 */
import {
  CniError,
  compareVersions,
  execPlugin,
  type Invocation,
  log,
  toCniError,
  validAttachments,
} from "../cni/mod.ts";
import type { Store } from "../store/mod.ts";
import { ensureWaiter, nodeHasWork, stopWaiting } from "./waiter.ts";
import type { RatchetConf } from "./conf.ts";
import { type ContainerRecord, KEY, parseRecord } from "./keys.ts";
import { teardown } from "./release.ts";

/** Releases stale containers' links and records, forwards GC, and reports every failure at the end. */
export async function collectGarbage(
  { conf, env, netConf }: Invocation<RatchetConf>,
  store: Store,
): Promise<void> {
  const { field, attachments: list } = validAttachments(netConf);
  const live = new Set(list.map((a) => a.containerID));
  const now = Date.now();
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
    if (!rec || live.has(id) || rec.node !== conf.node || (rec.network ?? conf.name) !== conf.name) continue;
    // An ADD may still be in flight, and the runtime lists only finished ones (records before the
    // grace period existed carry no time and are old enough).
    if (conf.gcGrace.isYoung(rec.created, now)) continue;
    try {
      const self = { namespace: rec.namespace, pod: rec.eligible ? rec.pod : "" };
      await teardown(store, {
        self,
        containerId: id,
        netns: rec.netns,
        stopWaiting: () => stopWaiting(store, conf, rec.node, id),
      });
      log.info("GC released a container the runtime no longer knows", { stale: id });
    } catch (e) {
      errors.push(Object.assign(e as Error, { message: `container ${id}: ${(e as Error).message}` }));
    }
  }
  // A waiter killed meanwhile is replaced, so that the node's pending links still finish.
  try {
    if (await nodeHasWork(store, conf.node)) await ensureWaiter(store, conf);
  } catch (e) {
    errors.push(e as Error);
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
