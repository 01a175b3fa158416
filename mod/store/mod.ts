/**
 * The key-value store anchor and ratchet share: an embedded JSON file store by default, etcd v3 when
 * configured, behind one small transactional interface.
 *
 * @example
 * ```ts
 * import { claim, openStore, storeSettingsFromConfig } from "../store/mod.ts";
 * const store = await openStore(storeSettingsFromConfig(conf.ipam));
 * try {
 *   const mine = await claim(store, `/anchor/cn/${containerId}`, `${ip},${pod},${ns},${controller}`);
 * } finally {
 *   await store.close();
 * }
 * ```
 * @module
 */
export type { Compare, KeyValue, Op, Store, Watch, WatchEvent } from "./types.ts";
export {
  StoreConflictError,
  StoreCorruptError,
  StoreError,
  StoreSettingsError,
  StoreUnavailableError,
} from "./errors.ts";
export {
  DEFAULT_ETCD_TIMEOUT_MS,
  DEFAULT_STORE_DIR,
  describeSettings,
  type EtcdStoreSettings,
  type FileStoreSettings,
  storeFlagOptions,
  type StoreSettings,
  storeSettingsFromConfig,
  storeSettingsFromFlags,
} from "./settings.ts";
export { openStore } from "./open.ts";
export { withStore } from "./with_store.ts";
export { casUpdate, claim, claimFirst, DEFAULT_CAS_RETRIES, increment } from "./atomic.ts";
