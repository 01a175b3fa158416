/**
 * The one compare-and-swap retry loop: every read-modify-write over `Store.txn` (anchor's allocation and
 * release, casUpdate, ratchet's records) runs its attempts through `retryCas`, which owns the budget, the
 * pause between attempts and the error when the budget is spent.
 */
import { StoreConflictError } from "./errors.ts";

/** What an attempt returns when its transaction's compares failed: another writer got there first. */
export const LOST_RACE: unique symbol = Symbol("lost the compare-and-swap race");

/** Attempts before giving up: enough for 200 ADDs racing for one pool from 25 processes at a time. */
export const DEFAULT_CAS_ATTEMPTS = 64;
/** The first pause's ceiling in ms; it doubles with every lost race... */
const BASE_MS = 4;
/** ...up to this ceiling, so the slowest loser still tries about twice a second. */
const CAP_MS = 400;

/** How `retryCas` spends its budget. */
export interface CasRetryOptions {
  /** Attempts in all, at least 1 (default DEFAULT_CAS_ATTEMPTS). */
  attempts?: number;
  /** The ceiling of the first pause, in ms (default 4); pause n is random in [0, min(base·2ⁿ, cap)). */
  baseMs?: number;
  /** The largest pause, in ms (default 400). */
  capMs?: number;
}

/**
 * Runs `attempt(n)` (n = 0, 1, ...) until it returns something other than LOST_RACE, pausing between
 * attempts with exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter", 2015): losers spread out instead of colliding again in lockstep, and on etcd every lost round
 * is a raft write, so backing off is what lets the winners through.
 *
 * Each attempt must read afresh and end in one `txn` whose compares guard what it read.
 *
 * @param what the key or prefix fought over, named in the error.
 * @returns what the winning attempt returned.
 * @throws StoreConflictError (`temporary`, so CNI code 11) after `attempts` lost races; anything an
 *   attempt throws passes through at once.
 *
 * @example
 * ```ts
 * const value = await retryCas("/ratchet/vni/", async () => {
 *   const old = await store.get(key);
 *   const ok = await store.txn([{ key, modRevision: old?.modRevision ?? 0 }], [{ put: key, value: "x" }]);
 *   return ok ? "x" : LOST_RACE;
 * });
 * ```
 */
export async function retryCas<T>(
  what: string,
  attempt: (n: number) => Promise<T | typeof LOST_RACE>,
  options: CasRetryOptions = {},
): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? DEFAULT_CAS_ATTEMPTS);
  const base = options.baseMs ?? BASE_MS, cap = options.capMs ?? CAP_MS;
  for (let n = 0; n < attempts; n++) {
    const result = await attempt(n);
    if (result !== LOST_RACE) return result as T;
    if (n + 1 < attempts) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(base * 2 ** n, cap)));
    }
  }
  throw new StoreConflictError(what, attempts);
}
