/**
 * Read-modify-write of one key over `Store.txn`, for records that several processes and nodes update.
 */
import { type CasRetryOptions, LOST_RACE, retryCas } from "./retry.ts";
import type { Store } from "./types.ts";

/**
 * Replaces the value at `key` with `update(old)` atomically: reads, computes, and writes only if nobody
 * wrote in between, retrying through `retryCas` otherwise. `update` gets undefined for an absent key,
 * returns the new value, or undefined to leave the key absent (deleting it). It may run several times,
 * so it must not have side effects. Returns the value written.
 *
 * @throws StoreConflictError (temporary) when every attempt lost the race.
 */
export function casUpdate(
  store: Store,
  key: string,
  update: (old?: string) => string | undefined,
  options?: CasRetryOptions,
): Promise<string | undefined> {
  return retryCas(key, async () => {
    const old = await store.get(key);
    const next = update(old?.value);
    if (next === old?.value) return next;
    const ok = await store.txn(
      [old ? { key, modRevision: old.modRevision } : { key, exists: false }],
      [next === undefined ? { delete: key } : { put: key, value: next }],
    );
    return ok ? next : LOST_RACE;
  }, options);
}
