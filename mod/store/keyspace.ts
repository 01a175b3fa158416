/**
 * A revisioned keyspace in plain data: the file store's model, with etcd v3's rules for compares,
 * revisions and versions so that both backends answer alike.
 */
import { StoreCorruptError, StoreError } from "./errors.ts";
import type { Compare, KeyValue, Op } from "./types.ts";

/** One stored key, as it appears in the file store's JSON. */
export interface Entry {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

/** The whole file store: `{"revision": 12, "keys": {"/anchor/ns/default": {...Entry}}}`. */
export interface Keyspace {
  revision: number;
  keys: Record<string, Entry>;
}

/** A keyspace with nothing in it, as an absent data file reads. */
export function emptyKeyspace(): Keyspace {
  return { revision: 0, keys: {} };
}

/** The public shape of a stored entry. */
export function toKeyValue(key: string, entry: Entry): KeyValue {
  return {
    key,
    value: entry.value,
    modRevision: entry.modRevision,
    createRevision: entry.createRevision,
    version: entry.version,
  };
}

/** Byte order for ASCII keys, which is etcd's order; localeCompare would not be. */
export function byKey(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The keys under `prefix`, sorted by key. */
export function listPrefix(space: Keyspace, prefix: string): KeyValue[] {
  const out: KeyValue[] = [];
  for (const [key, entry] of Object.entries(space.keys)) {
    if (key.startsWith(prefix)) out.push(toKeyValue(key, entry));
  }
  return out.sort(byKey);
}

/** Whether one compare holds, by etcd's rules: an absent key has version and modRevision 0 and fails value compares. */
export function holds(space: Keyspace, compare: Compare): boolean {
  const entry = Object.hasOwn(space.keys, compare.key) ? space.keys[compare.key] : undefined;
  if ("exists" in compare) return (entry !== undefined) === compare.exists;
  if ("modRevision" in compare) return (entry?.modRevision ?? 0) === compare.modRevision;
  return entry !== undefined && entry.value === compare.value;
}

/**
 * Applies the ops as one revision, as etcd does for a transaction: every key written gets the same
 * modRevision, and the revision only moves when something changed. Returns whether it did.
 */
export function applyOps(space: Keyspace, ops: Op[]): boolean {
  const revision = space.revision + 1;
  let changed = false;
  for (const op of ops) {
    if ("put" in op) {
      const old = Object.hasOwn(space.keys, op.put) ? space.keys[op.put] : undefined;
      space.keys[op.put] = {
        value: op.value,
        createRevision: old?.createRevision ?? revision,
        modRevision: revision,
        version: (old?.version ?? 0) + 1,
      };
      changed = true;
    } else if ("delete" in op) {
      if (Object.hasOwn(space.keys, op.delete)) {
        delete space.keys[op.delete];
        changed = true;
      }
    } else {
      for (const key of Object.keys(space.keys)) {
        if (key.startsWith(op.deletePrefix)) {
          delete space.keys[key];
          changed = true;
        }
      }
    }
  }
  if (changed) space.revision = revision;
  return changed;
}

/**
 * Rejects what etcd rejects, in both backends alike: empty keys, and a branch that writes one key
 * twice (two puts, or a put the same branch also deletes).
 */
export function checkTxn(compares: Compare[], ...branches: Op[][]): void {
  for (const c of compares) checkKey(c.key);
  for (const ops of branches) {
    const puts = new Set<string>();
    for (const op of ops) {
      const key = "put" in op ? op.put : "delete" in op ? op.delete : op.deletePrefix;
      if (!("deletePrefix" in op)) checkKey(key);
      if (!("put" in op)) continue;
      if (puts.has(key)) throw new StoreError(`transaction puts ${key} twice`);
      puts.add(key);
    }
    for (const op of ops) {
      const hit = "delete" in op
        ? puts.has(op.delete) && op.delete
        : "deletePrefix" in op && [...puts].find((k) => k.startsWith(op.deletePrefix));
      if (hit) throw new StoreError(`transaction both puts and deletes ${hit}`);
    }
  }
}

/** Keys are non-empty strings; etcd refuses an empty one. */
export function checkKey(key: string): void {
  if (typeof key !== "string" || key === "") {
    throw new StoreError(`store keys must be non-empty strings, got ${JSON.stringify(key)}`);
  }
}

/** Parses the data file, checking enough of its shape that a hand edit gone wrong is reported, not used. */
export function parseKeyspace(text: string, path: string): Keyspace {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new StoreCorruptError(path, `not JSON (${(e as Error).message})`);
  }
  const space = data as Keyspace;
  if (
    typeof data !== "object" || data === null || !Number.isInteger(space.revision) ||
    typeof space.keys !== "object" || space.keys === null
  ) {
    throw new StoreCorruptError(path, `expected {"revision": <integer>, "keys": {...}}`);
  }
  for (const [key, entry] of Object.entries(space.keys)) {
    if (
      typeof entry?.value !== "string" || !Number.isInteger(entry.modRevision) ||
      !Number.isInteger(entry.createRevision) || !Number.isInteger(entry.version)
    ) {
      throw new StoreCorruptError(
        path,
        `key ${key} needs value (string), createRevision, modRevision and version (integers)`,
      );
    }
  }
  return space;
}

/** Pretty JSON with sorted keys, so that the file reads and diffs well. */
export function formatKeyspace(space: Keyspace): string {
  const keys: Record<string, Entry> = {};
  for (const key of Object.keys(space.keys).sort()) keys[key] = space.keys[key];
  return JSON.stringify({ revision: space.revision, keys }, null, 2) + "\n";
}
