/**
 * What both backends check alike (etcd's rules for keys and transactions), and the reader of the JSON
 * store the embedded store used before SQLite (`store.json`), which it imports once.
 */
import { StoreCorruptError, StoreError } from "./errors.ts";
import type { Compare, Op } from "./types.ts";

/** One stored key, as it appears in store.json. */
export interface Entry {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

/** The whole of store.json: `{"revision": 12, "keys": {"/anchor/ns/default": {...Entry}}}`. */
export interface Keyspace {
  revision: number;
  keys: Record<string, Entry>;
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

/** Parses store.json, checking enough of its shape that a hand edit gone wrong is reported, not imported. */
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
