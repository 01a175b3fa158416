/** Opens whichever backend the settings name, loading only that backend's code. */
import type { StoreSettings } from "./settings.ts";
import type { Store } from "./types.ts";

/**
 * Opens the store. Nothing is read or dialled yet: the first call does that, so opening is cheap.
 * Close it when done, or the process may stay alive (etcd connections, watch timers).
 *
 * @example
 * ```ts
 * const store = await openStore(storeSettingsFromConfig(conf.ipam ?? {}));
 * try {
 *   await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export async function openStore(settings: StoreSettings): Promise<Store> {
  if (settings.kind === "file") {
    const { openFileStore } = await import("./file_store.ts");
    return openFileStore(settings);
  }
  // etcd's client loads gRPC and protobuf (~150-200 ms); only etcd users pay for it.
  const { openEtcdStore } = await import("./etcd_store.ts");
  return openEtcdStore(settings);
}
