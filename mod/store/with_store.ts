import { openStore } from "./open.ts";
import type { StoreSettings } from "./settings.ts";
import type { Store } from "./types.ts";

/**
 * Opens the store, runs `fn`, and closes the store even when `fn` throws: an etcd client left open
 * would keep the process (or octopus, calling anchor in process) alive.
 */
export async function withStore<T>(settings: StoreSettings, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(settings);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
