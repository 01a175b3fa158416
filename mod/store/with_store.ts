import { openStore } from "./open.ts";
import type { StoreSettings } from "./settings.ts";
import type { Store } from "./types.ts";

/**
 * Opens the store, runs `fn`, and closes the store even when `fn` throws: an etcd client left open
 * would keep the process (or octopus, calling anchor in process) alive.
 */
export async function withStore<T>(settings: StoreSettings, fn: (store: Store) => Promise<T>): Promise<T> {
  await using store = await openStore(settings);
  return await fn(store);
}

/**
 * The key STATUS writes to prove the store takes writes. It lies outside `/anchor/` and `/ratchet/`,
 * so no watcher of either wakes on it.
 */
export const STATUS_PROBE_KEY = "/store/status-probe";

/**
 * Proves the store can be written, not just read: a read-only or full disk, or an etcd out of quota,
 * answers reads but not writes, and a CNI STATUS must not call such a store ready (CNI spec 1.1, STATUS).
 * Writes the time under STATUS_PROBE_KEY.
 *
 * @throws whatever the write throws (StoreIoError, StoreUnavailableError, ...).
 */
export async function probeWritable(store: Store): Promise<void> {
  await store.put(STATUS_PROBE_KEY, new Date().toISOString());
}
