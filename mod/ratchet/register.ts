/**
 * A pod's registration: one transaction writes where the pod is, which links it declares, the
 * container record DEL reads, and an index entry at each declared peer so the peer can find links
 * only this side declared.
 */
import { casUpdate } from "../store/atomic.ts";
import { LOST_RACE, retryCas } from "../store/retry.ts";
import type { Op, Store } from "../store/types.ts";
import { type AttachRecord, type ContainerRecord, KEY, parseRecord } from "./keys.ts";
import type { PodRef } from "./resolve.ts";

function peerIndexKeys(self: PodRef, rec: AttachRecord): string[] {
  const keys = new Set<string>();
  for (const l of rec.links) {
    if (l.peer.namespace === self.namespace && l.peer.pod === self.pod) continue;
    keys.add(KEY.peer(l.peer.namespace, l.peer.pod, self.namespace, self.pod));
  }
  return [...keys];
}

/** What {@link register} wrote, and what it found, so that a failed ADD can undo exactly its own part. */
export interface Registration {
  /** The registration as written. */
  record: AttachRecord;
  /** The text written under the attach key, which undo compares before restoring. */
  written: string;
  /** True when this call made the container's record (false: a retried ADD of a live container). */
  created: boolean;
  /** The registration it overwrote (another container's, or a retried ADD's own), as text. */
  previous?: string;
}

/**
 * Registers an eligible pod, replacing the registration of an earlier container of the same pod
 * (a re-created pod): the written record names that container in `replaces`, and it keeps its own
 * container record for its own DEL.
 *
 * @throws StoreConflictError when the key kept changing (temporary: CNI code 11)
 */
export async function register(
  store: Store,
  self: PodRef,
  rec: AttachRecord,
  container: ContainerRecord,
): Promise<Registration> {
  const key = KEY.attach(self.namespace, self.pod);
  const ckey = KEY.container(rec.container_id);
  return await retryCas(key, async () => {
    const [kv, ckv] = await Promise.all([store.get(key), store.get(ckey)]);
    const old = parseRecord<AttachRecord>(kv);
    const replaces = !old
      ? undefined
      : old.container_id !== rec.container_id
      ? { container_id: old.container_id, netns: old.netns }
      : old.replaces;
    const next: AttachRecord = replaces ? { ...rec, replaces } : rec;
    const written = JSON.stringify(next);
    // A retried ADD keeps the first one's creation time, which GC's grace period counts from.
    const since = parseRecord<ContainerRecord>(ckv)?.created;
    const ops: Op[] = [
      { put: key, value: written },
      { put: ckey, value: JSON.stringify(since ? { ...container, created: since } : container) },
      ...peerIndexKeys(self, rec).map((k) => ({ put: k, value: rec.container_id })),
    ];
    const compares = [
      { key, modRevision: kv?.modRevision ?? 0 },
      { key: ckey, modRevision: ckv?.modRevision ?? 0 },
    ];
    if (await store.txn(compares, ops)) {
      const out: Registration = { record: next, written, created: !ckv };
      if (kv) out.previous = kv.value;
      return out;
    }
    return LOST_RACE;
  });
}

/**
 * Undoes what {@link register} changed: the registration it overwrote comes back with its peer
 * index entries (a retried ADD's failure leaves the live ADD's registration as it was), or the pod
 * is unregistered; the container record goes only when this call made it. A registration some
 * other writer changed meanwhile is left to it.
 */
export async function undoRegister(store: Store, self: PodRef, reg: Registration): Promise<void> {
  const key = KEY.attach(self.namespace, self.pod);
  const ours = peerIndexKeys(self, reg.record);
  const dropRecord: Op[] = reg.created ? [{ delete: KEY.container(reg.record.container_id) }] : [];
  const prev = reg.previous === undefined ? undefined : parseRecord<AttachRecord>({ value: reg.previous });
  const ops: Op[] = [...dropRecord];
  if (prev) {
    if (reg.previous === reg.written && !reg.created) return;
    const theirs = peerIndexKeys(self, prev);
    ops.push({ put: key, value: reg.previous! });
    ops.push(...theirs.map((k) => ({ put: k, value: prev.container_id })));
    ops.push(...ours.filter((k) => !theirs.includes(k)).map((k) => ({ delete: k })));
  } else {
    ops.push({ delete: key }, ...ours.map((k) => ({ delete: k })));
  }
  await store.txn([{ key, value: reg.written }], ops, dropRecord);
}

/** Records an ineligible container, so that DEL runs the delegate even when the pod is gone from the API. */
export async function recordContainer(
  store: Store,
  containerId: string,
  container: ContainerRecord,
): Promise<void> {
  await store.put(KEY.container(containerId), JSON.stringify(container));
}

/** The container's record, if ADD wrote one. */
export async function containerRecord(
  store: Store,
  containerId: string,
): Promise<ContainerRecord | undefined> {
  return parseRecord<ContainerRecord>(await store.get(KEY.container(containerId)));
}

/** The pod's current registration, if any. */
export async function attachRecord(store: Store, self: PodRef): Promise<AttachRecord | undefined> {
  return parseRecord<AttachRecord>(await store.get(KEY.attach(self.namespace, self.pod)));
}

/**
 * Withdraws the pod's registration and its peer index entries while they are still this
 * container's (a newer container may own them). The container record stays, for a DEL that fails
 * later and runs again. Done first at DEL, so that no other process makes a link end for this
 * container afterwards: their claims compare this registration's revision.
 */
export async function deregister(store: Store, self: PodRef, containerId: string): Promise<void> {
  const key = KEY.attach(self.namespace, self.pod);
  await retryCas(key, async () => {
    const kv = await store.get(key);
    const rec = parseRecord<AttachRecord>(kv);
    if (!kv || rec?.container_id !== containerId) return;
    const ops: Op[] = [{ delete: key }, ...peerIndexKeys(self, rec).map((k) => ({ delete: k }))];
    return (await store.txn([{ key, modRevision: kv.modRevision }], ops)) ? undefined : LOST_RACE;
  });
}

/**
 * Applies `update` to a JSON record atomically (casUpdate underneath): `update` gets the parsed
 * record or undefined, and returns the new record, or undefined to delete it.
 */
export async function updateRecord<T>(
  store: Store,
  key: string,
  update: (old?: T) => T | undefined,
): Promise<T | undefined> {
  const text = await casUpdate(store, key, (old) => {
    const next = update(old === undefined ? undefined : parseRecord<T>({ value: old }));
    return next === undefined ? undefined : JSON.stringify(next);
  });
  return text === undefined ? undefined : JSON.parse(text) as T;
}
