/**
 * The key-value store anchor and ratchet share: an embedded SQLite database by default, etcd v3 when
 * configured, behind one small transactional interface.
 *
 * @example
 * ```ts
 * import { openStore, storeSettingsFromConfig } from "../store/mod.ts";
 * await using store = await openStore(storeSettingsFromConfig(conf.ipam));
 * const key = `/anchor/cn/${containerId}`;
 * const mine = await store.txn([{ key, exists: false }], [{ put: key, value: `${ip},${pod},${ns},${controller}` }]);
 * ```
 * @module
 */
export type { Compare, KeyValue, Op, Store, Watch, WatchEvent } from "./types.ts";
export {
  StoreConflictError,
  StoreCorruptError,
  StoreError,
  StoreIoError,
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
  unknownKind,
} from "./settings.ts";
export { openStore } from "./open.ts";
export { probeWritable, STATUS_PROBE_KEY, withStore } from "./with_store.ts";
export { casUpdate } from "./atomic.ts";
export { type CasRetryOptions, DEFAULT_CAS_ATTEMPTS, LOST_RACE, retryCas } from "./retry.ts";
