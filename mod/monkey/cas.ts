/**
 * Compare-and-swap writes for the API: an edit based on an old revision gets 409 and changes nothing,
 * so two people editing one pool never silently overwrite each other.
 */
import type { KeyValue, Store } from "../store/mod.ts";
import { HttpError } from "./http.ts";

/**
 * Writes `value` at `key`. With `expected`, only if the key is still at that modRevision (0: only if
 * absent); without, unconditionally. Returns the key as stored afterwards.
 *
 * @throws HttpError 409 with the current `revision` when the key moved on.
 */
export async function casPut(
  store: Store,
  key: string,
  value: string,
  expected: number | undefined,
  what: string,
): Promise<KeyValue> {
  if (expected === undefined) await store.put(key, value);
  else if (!(await store.txn([{ key, modRevision: expected }], [{ put: key, value }]))) {
    throw await conflict(store, key, expected, what, false);
  }
  // A writer racing in right after us shows here too: the answer is what is stored now, never a guess.
  const stored = await store.get(key);
  if (!stored) throw new HttpError(409, `${what} was deleted right after this write`, { revision: 0 });
  return stored;
}

/**
 * Deletes `key`. With `expected`, only if the key is still at that modRevision.
 *
 * @throws HttpError 404 when the key is absent, 409 with the current `revision` when it moved on.
 */
export async function casDelete(
  store: Store,
  key: string,
  expected: number | undefined,
  what: string,
): Promise<void> {
  const compare = expected === undefined ? { key, exists: true } : { key, modRevision: expected };
  if (await store.txn([compare], [{ delete: key }])) return;
  throw await conflict(store, key, expected, what, true);
}

/**
 * The error for a failed compare: 409 when someone else wrote the key, 404 when it is gone and
 * `absentIs404` (a delete of nothing; for a put, a deletion meanwhile is a conflict like any other).
 */
export async function conflict(
  store: Store,
  key: string,
  expected: number | undefined,
  what: string,
  absentIs404: boolean,
): Promise<HttpError> {
  const current = await store.get(key);
  if (!current && absentIs404) return new HttpError(404, `${what} does not exist`);
  const now = current ? `revision ${current.modRevision}` : "deleted";
  return new HttpError(
    409,
    `${what} was changed by someone else (now ${now}, your edit was based on ${
      expected ? `revision ${expected}` : "its absence"
    }); reload and retry`,
    { revision: current?.modRevision ?? 0 },
  );
}
