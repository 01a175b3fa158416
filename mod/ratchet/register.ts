/**
 * A pod's registration: one transaction writes where the pod is, which links it declares, the
 * container record DEL reads, and an index entry at each declared peer so the peer can find links
 * only this side declared.
 */
import { casUpdate, type Op, type Store } from "../store/mod.ts";
import { type AttachRecord, type ContainerRecord, KEY, parseRecord } from "./keys.ts";
import type { PodRef } from "./resolve.ts";

const TXN_ATTEMPTS = 20;

function peerIndexKeys(self: PodRef, rec: AttachRecord): string[] {
  const keys = new Set<string>();
  for (const l of rec.links) {
    if (l.peer.namespace === self.namespace && l.peer.pod === self.pod) continue;
    keys.add(KEY.peer(l.peer.namespace, l.peer.pod, self.namespace, self.pod));
  }
  return [...keys];
}

/**
 * Registers an eligible pod, replacing the registration of an earlier container of the same pod
 * (a re-created pod): the written record names that container in `replaces`, and it keeps its own
 * container record for its own DEL. Returns the record as written.
 */
export async function register(
  store: Store,
  self: PodRef,
  rec: AttachRecord,
  container: ContainerRecord,
): Promise<AttachRecord> {
  const key = KEY.attach(self.namespace, self.pod);
  for (let attempt = 0; attempt < TXN_ATTEMPTS; attempt++) {
    const kv = await store.get(key);
    const old = parseRecord<AttachRecord>(kv);
    const replaces = !old
      ? undefined
      : old.container_id !== rec.container_id
      ? { container_id: old.container_id, netns: old.netns }
      : old.replaces;
    const next: AttachRecord = replaces ? { ...rec, replaces } : rec;
    const ops: Op[] = [
      { put: key, value: JSON.stringify(next) },
      { put: KEY.container(rec.container_id), value: JSON.stringify(container) },
      ...peerIndexKeys(self, rec).map((k) => ({ put: k, value: rec.container_id })),
    ];
    if (await store.txn([kv ? { key, modRevision: kv.modRevision } : { key, exists: false }], ops)) {
      return next;
    }
  }
  throw new Error(`registering pod ${self.namespace}/${self.pod}: ${key} kept changing`);
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
 * Removes a container's records: its container record always, the pod's registration and peer
 * index entries only while they are still this container's (a newer container may own them).
 */
export async function unregister(store: Store, self: PodRef, containerId: string): Promise<void> {
  const key = KEY.attach(self.namespace, self.pod);
  for (let attempt = 0; attempt < TXN_ATTEMPTS; attempt++) {
    const kv = await store.get(key);
    const rec = parseRecord<AttachRecord>(kv);
    if (!kv || rec?.container_id !== containerId) {
      await store.delete(KEY.container(containerId));
      return;
    }
    const ops: Op[] = [
      { delete: key },
      { delete: KEY.container(containerId) },
      ...peerIndexKeys(self, rec).map((k) => ({ delete: k })),
    ];
    if (await store.txn([{ key, modRevision: kv.modRevision }], ops)) return;
  }
  throw new Error(`unregistering pod ${self.namespace}/${self.pod}: ${key} kept changing`);
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
