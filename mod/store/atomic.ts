/**
 * Read-modify-write patterns over `Store.txn`, for allocations that must not collide across
 * processes and nodes: put-if-absent claims and compare-and-swap updates.
 */
import { StoreConflictError, StoreError } from "./errors.ts";
import type { Store } from "./types.ts";

/** Default retries for casUpdate: enough for a hundred processes hammering one key at once. */
export const DEFAULT_CAS_RETRIES = 60;
const MAX_BACKOFF_MS = 400;

/**
 * Puts `value` at `key` only if the key is absent. True when this caller now owns the key.
 * A key this caller claimed earlier counts as taken too; compare its value if retries must be idempotent.
 *
 * @example
 * ```ts
 * if (!(await claim(store, `/ratchet/vni/${vni}`, linkId))) throw new Error(`VNI ${vni} is taken`);
 * ```
 */
export function claim(store: Store, key: string, value: string): Promise<boolean> {
  return store.txn([{ key, exists: false }], [{ put: key, value }]);
}

/**
 * Claims the first key of `candidates` that nobody holds, in order, and returns it;
 * undefined when all are taken. Filter out keys known to be taken (one `list`) before calling,
 * so that a crowded pool costs one round trip per race lost, not one per used key.
 *
 * @example
 * ```ts
 * const used = new Set((await store.list("/anchor/ip/")).map((kv) => kv.key));
 * const key = await claimFirst(store, pool.map((ip) => `/anchor/ip/${ip}`).filter((k) => !used.has(k)), containerId);
 * ```
 */
export async function claimFirst(
  store: Store,
  candidates: Iterable<string>,
  value: string,
): Promise<string | undefined> {
  for (const key of candidates) {
    if (await claim(store, key, value)) return key;
  }
  return undefined;
}

/**
 * Replaces the value at `key` with `update(old)` atomically: reads, computes, and writes only if nobody
 * wrote in between, retrying with a short random pause otherwise. `update` gets undefined for an absent
 * key, returns the new value, or undefined to leave the key absent (deleting it). It may run several
 * times, so it must not have side effects. Returns the value written.
 *
 * @throws StoreConflictError (temporary) when every attempt lost the race.
 */
export async function casUpdate(
  store: Store,
  key: string,
  update: (old?: string) => string | undefined,
  retries = DEFAULT_CAS_RETRIES,
): Promise<string | undefined> {
  for (let attempt = 0; attempt <= retries; attempt++) {
    const old = await store.get(key);
    const next = update(old?.value);
    if (next === old?.value) return next;
    const ok = await store.txn(
      [old ? { key, modRevision: old.modRevision } : { key, exists: false }],
      [next === undefined ? { delete: key } : { put: key, value: next }],
    );
    if (ok) return next;
    // Exponential backoff with full jitter: losers spread out instead of colliding again in lockstep,
    // and each lost round on etcd is a raft write, so backing off is what lets the winners through.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.random() * Math.min(4 * 2 ** attempt, MAX_BACKOFF_MS))
    );
  }
  throw new StoreConflictError(key, retries + 1);
}

/**
 * Atomically increments the decimal counter at `key` and returns the new value, which this caller alone
 * received; an absent counter starts at `start` (ratchet's VNI counter `/ratchet/vxlanid` started at 11).
 *
 * @example
 * ```ts
 * const vni = await increment(store, "/ratchet/vxlanid", 11);
 * ```
 */
export async function increment(store: Store, key: string, start = 1): Promise<number> {
  const value = await casUpdate(store, key, (old) => {
    if (old === undefined) return String(start);
    if (!/^-?\d+$/.test(old.trim())) {
      throw new StoreError(`counter ${key} holds ${JSON.stringify(old)}, not a whole number`);
    }
    return String(Number(old) + 1);
  });
  return Number(value);
}
