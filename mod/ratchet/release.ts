/**
 * Taking a container's links apart: DEL, and the rollback of a failed ADD. What is already gone
 * (the namespace, an interface, a record) counts as done, since DEL may run many times.
 */
import { log } from "../cni/log.ts";
import { Handle } from "../netlink/handle.ts";
import { isNotFound, NotNetnsError } from "../netlink/errors.ts";
import { LOST_RACE, retryCas } from "../store/retry.ts";
import type { Op, Store } from "../store/types.ts";
import { type EndRecord, KEY, type LinkState, parseRecord } from "./keys.ts";
import { removeEnd } from "./plumb.ts";
import { deregister } from "./register.ts";
import type { PodRef } from "./resolve.ts";

/** A handle on the namespace, or undefined when it no longer exists (its links went with it). */
export function openIfExists(netns: string): Handle | undefined {
  if (!netns) return undefined;
  try {
    return Handle.open(netns);
  } catch (e) {
    if (isNotFound(e) || e instanceof NotNetnsError) return undefined;
    throw e;
  }
}

/**
 * Gives up this container's share of a link: a veth's state goes (both ends vanish with one), a
 * vxlan loses this end and, when no end is left, its state and its VNI.
 */
async function releaseState(store: Store, rec: EndRecord, containerId: string): Promise<void> {
  const key = KEY.state(rec.link);
  await retryCas(key, async () => {
    const kv = await store.get(key);
    const st = parseRecord<LinkState>(kv);
    if (!kv || !st || st.ends[rec.end]?.container_id !== containerId) return;
    const rest = { ...st.ends };
    delete rest[rec.end];
    const ops: Op[] = [];
    if (st.kind === "veth" || Object.keys(rest).length === 0) {
      ops.push({ delete: key });
      if (st.vni !== undefined) ops.push({ delete: KEY.vni(st.vni) });
      if (st.kind === "veth") {
        for (const [end, e] of Object.entries(rest)) {
          ops.push({ delete: KEY.end(e.container_id, end.split("/")[2]) });
        }
      }
    } else {
      ops.push({ put: key, value: JSON.stringify({ ...st, ends: rest }) });
    }
    return (await store.txn([{ key, modRevision: kv.modRevision }], ops)) ? undefined : LOST_RACE;
  });
}

/**
 * Removes one link end made for `containerId`: the interface `ifname` in the open namespace `h`
 * (absent: the namespace is gone), then the container's share of the link and the end's record.
 */
export async function releaseEnd(
  store: Store,
  containerId: string,
  ifname: string,
  h: Handle | undefined,
): Promise<void> {
  const key = KEY.end(containerId, ifname);
  const kv = await store.get(key);
  if (!kv) return;
  if (h) removeEnd(h, ifname);
  const rec = parseRecord<EndRecord>(kv);
  if (rec) await releaseState(store, rec, containerId);
  await store.delete(key);
}

/**
 * Removes the link ends made for `containerId`: the interfaces in `netns` when it still exists,
 * and the container's share of each link in the store. Returns how many ends there were.
 */
export async function releaseEnds(store: Store, containerId: string, netns: string): Promise<number> {
  const prefix = KEY.ends(containerId);
  const ends = await store.list(prefix);
  if (ends.length === 0) return 0;
  const h = openIfExists(netns);
  try {
    for (const kv of ends) await releaseEnd(store, containerId, kv.key.slice(prefix.length), h);
  } finally {
    h?.close();
  }
  log.info(`released ${ends.length} link end(s)`, { container: containerId });
  return ends.length;
}

/** What DEL and GC take apart for one eligible container, in the order that leaves no window. */
export interface Teardown {
  self: PodRef;
  containerId: string;
  netns: string;
  /** Stops the waiting work for the container (its pending links). */
  stopWaiting: () => Promise<void>;
  /** Runs after the links are gone and before the container record goes (the boot network's DEL). */
  beforeRecord?: () => Promise<void>;
}

/**
 * Takes an eligible container apart: its registration first (so that no peer's process makes a new
 * end for it from then on: claims compare the registration), its waiting work, its link ends, the
 * nested plugin, and its container record last (a DEL that fails half-way finds it again).
 */
export async function teardown(store: Store, t: Teardown): Promise<void> {
  if (t.self.pod) await deregister(store, t.self, t.containerId);
  await t.stopWaiting();
  await releaseEnds(store, t.containerId, t.netns);
  await t.beforeRecord?.();
  await store.delete(KEY.container(t.containerId));
}

/**
 * Removes the interfaces an earlier container of a re-created pod left in its namespace, if that
 * still exists; its records stay for its own DEL. A vxlan left there would keep the VNI busy on
 * the node's underlay and make the new end fail with EEXIST.
 */
export async function sweepPrevious(
  store: Store,
  previous: { container_id: string; netns: string },
  netns: string,
) {
  if (!previous.netns || previous.netns === netns) return;
  const prefix = KEY.ends(previous.container_id);
  const ends = await store.list(prefix);
  if (ends.length === 0) return;
  const h = openIfExists(previous.netns);
  if (!h) return;
  try {
    for (const kv of ends) removeEnd(h, kv.key.slice(prefix.length));
  } finally {
    h.close();
  }
}
