/** Opens whichever backend the settings name, loading only that backend's code. */
import { lazy } from "../lazy.ts";
import { type StoreSettings, unknownKind } from "./settings.ts";
import type { Store } from "./types.ts";

/**
 * Opens the store. Nothing is read or dialled yet: the first call does that, so opening is cheap.
 * Close it when done (or `await using` it), or the process may stay alive (watch timers, streams).
 *
 * @example
 * ```ts
 * await using store = await openStore(storeSettingsFromConfig(conf.ipam ?? {}));
 * await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
 * ```
 */
export async function openStore(settings: StoreSettings): Promise<Store> {
  switch (settings.kind) {
    case "file": {
      const { openSqliteStore } = await lazy<typeof import("./sqlite_store.ts")>(
        new URL("./sqlite_store.ts", import.meta.url),
      )();
      return openSqliteStore(settings);
    }
    case "etcd": {
      const { openEtcdStore } = await lazy<typeof import("./etcd_store.ts")>(
        new URL("./etcd_store.ts", import.meta.url),
      )();
      return openEtcdStore(settings);
    }
    default:
      return unknownKind(settings);
  }
}
