/**
 * DEL and `anchor release`: removing a record and its guard in one transaction, so an address is free
 * exactly when its record is gone. Absence is success: the spec lets DEL run again and again.
 */
import type { Compare, Op, Store } from "../store/types.ts";
import { LOST_RACE, retryCas } from "../store/retry.ts";
import { guardKey, RECORD_PREFIX, recordKey } from "./keys.ts";
import { type AllocationRecord, decodeOrBlank, recordMatches } from "./record.ts";
import type { StoredRecord } from "./state.ts";

/**
 * Releases the allocations of a container: of one interface when `ifname` is given (an original record,
 * which has no interface name, matches any), else all of them. Returns what was released.
 */
export async function release(
  store: Store,
  containerId: string,
  ifname?: string,
): Promise<AllocationRecord[]> {
  const released: AllocationRecord[] = [];
  for (const held of await recordsOf(store, containerId)) {
    if (ifname !== undefined && !recordMatches(held.record, containerId, ifname)) continue;
    if (await releaseRecord(store, held)) released.push(held.record);
  }
  return released;
}

/** The container's records, read with a prefix list (the container's own key and its `<id>:<ifname>` keys). */
async function recordsOf(store: Store, containerId: string): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (const kv of await store.list(recordKey(containerId))) {
    const id = kv.key.slice(RECORD_PREFIX.length);
    // The prefix also lists longer container IDs ("abc" lists "abcd"); keep only this container's keys.
    if (id !== containerId && !id.startsWith(`${containerId}:`)) continue;
    out.push({ record: decodeOrBlank(id, kv.value), modRevision: kv.modRevision });
  }
  return out;
}

/**
 * Deletes one record, and its guard when the guard names this record. The transaction compares the
 * record's revision, so a record rewritten since it was read is not deleted by mistake; on such a race
 * it reads again, unless `retry` is false: a person who released what they saw must not release what
 * it has become since. Returns false when the record was already gone.
 * @throws StoreConflictError when the record kept changing (at once when `retry` is false).
 */
export function releaseRecord(
  store: Store,
  held: StoredRecord,
  opts: { retry?: boolean } = {},
): Promise<boolean> {
  const cn = recordKey(held.record.id);
  let current: StoredRecord | undefined = held;
  return retryCas(cn, async () => {
    if (!current) return false;
    const compares: Compare[] = [{ key: cn, modRevision: current.modRevision }];
    const ops: Op[] = [{ delete: cn }];
    if (current.record.ip) {
      const guard = guardKey(current.record.ip);
      const owner = await store.get(guard);
      // A guard that names another record belongs to that record (a hand edit or an original record reusing an address).
      if (owner?.value === current.record.id) {
        compares.push({ key: guard, modRevision: owner.modRevision });
        ops.push({ delete: guard });
      }
    }
    if (await store.txn(compares, ops)) return true;
    const kv = await store.get(cn);
    current = kv && { record: decodeOrBlank(held.record.id, kv.value), modRevision: kv.modRevision };
    return LOST_RACE;
  }, opts.retry === false ? { attempts: 1 } : {});
}
