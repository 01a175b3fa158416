/**
 * The store's data model and the one interface both backends implement.
 *
 * The shapes follow etcd v3 on purpose, so that code written against the embedded store keeps its meaning
 * on etcd: revisions are global counters, `version` counts puts since the key was created.
 */

/** One key as the store holds it. */
export interface KeyValue {
  key: string;
  value: string;
  /** The store revision of the last write to this key. */
  modRevision: number;
  /** The store revision at which this key was created (reset when it is deleted and created again). */
  createRevision: number;
  /** The number of puts since the key was created; 1 right after creation. */
  version: number;
}

/**
 * A condition a transaction checks before it writes.
 *
 * - `{key, exists}`: the key is present (`true`) or absent (`false`);
 * - `{key, modRevision}`: the key was last written at exactly this revision (0 means absent);
 * - `{key, value}`: the key is present and holds exactly this value.
 */
export type Compare =
  | { key: string; exists: boolean }
  | { key: string; modRevision: number }
  | { key: string; value: string };

/** A write inside a transaction. */
export type Op = { put: string; value: string } | { delete: string } | { deletePrefix: string };

/** A change seen by a watcher. A delete carries the key and the deleting revision, with an empty value. */
export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
}

/** A running watch; close() stops it and frees its timers or stream. */
export interface Watch {
  close(): void;
}

/**
 * A small key-value store with transactions, the one thing anchor and ratchet share.
 *
 * Both backends (the embedded SQLite store and etcd v3) hold the same keys. Methods that reach an
 * unreachable store throw StoreUnavailableError (`temporary === true`).
 *
 * @example Put-if-absent, the building block of allocation
 * ```ts
 * await using store = await openStore(storeSettingsFromConfig(conf.ipam));
 * const mine = await store.txn([{ key: "/anchor/cn/abc", exists: false }], [{ put: "/anchor/cn/abc", value: "10.0.1.2,web-0,default," }]);
 * ```
 */
export interface Store {
  /** The key, or undefined when it is absent. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key that starts with `prefix`, sorted by key (byte order). */
  list(prefix: string): Promise<KeyValue[]>;
  /**
   * The names alone of the keys `list(prefix)` would return, in the same order (etcd's `keys_only`):
   * for scans of many keys whose name says enough, such as anchor's guards. About 20 times cheaper than
   * `list` for 5,000 keys on the embedded store.
   */
  listKeys(prefix: string): Promise<string[]>;
  /** Writes the key unconditionally. */
  put(key: string, value: string): Promise<void>;
  /** Removes the key; true when it existed. */
  delete(key: string): Promise<boolean>;
  /**
   * Checks every compare and then applies `success` (when all held) or `failure`, all or nothing,
   * atomically with respect to every other process and node using the same store.
   * Returns whether the compares held.
   */
  txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<boolean>;
  /**
   * Calls `onChange` for every change under `prefix` from now on, until the returned watch is closed.
   * The embedded store polls its revision counter, so quick successive writes to one key may arrive as
   * one event.
   * A broken etcd connection is repaired without losing events; `onError` hears of a watch etcd
   * cancelled for good (its history was compacted away), after which no more events come.
   */
  watch(prefix: string, onChange: (ev: WatchEvent) => void, onError?: (e: Error) => void): Promise<Watch>;
  /**
   * Resolves with the key as soon as `predicate` holds for it (it is called with undefined while the key
   * is absent), or with undefined when `timeoutMs` passes first.
   */
  waitFor(
    key: string,
    predicate: (kv?: KeyValue) => boolean,
    timeoutMs: number,
  ): Promise<KeyValue | undefined>;
  /** Says which store this is, for messages: "sqlite store /var/lib/cni/anchor/store.db", "etcd http://10.0.0.1:2379". */
  describe(): string;
  /** Frees connections, locks and timers so the process can exit. The store is unusable afterwards. */
  close(): Promise<void>;
  /** close(), so that `await using store = await openStore(settings)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}
