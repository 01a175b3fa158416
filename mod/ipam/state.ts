/**
 * Everything anchor keeps, read in one `list` so that pools, gateways, records and guards come from
 * the same revision: an ADD writes a record and its guard in one transaction, so a snapshot never
 * shows one without the other unless something outside anchor wrote the store.
 */
import type { KeyValue, Store } from "../store/types.ts";
import { LOST_RACE, retryCas } from "../store/retry.ts";
import { canonicalIp, formatIp, tryParseIp } from "../ip/addr.ts";
import { type Cidr, formatCidr, sameNetwork, tryParseCidr } from "../ip/cidr.ts";
import {
  ANCHOR_PREFIX,
  GATEWAY_PREFIX,
  GUARD_PREFIX,
  GUARDED_KEY,
  guardKey,
  lastKey,
  POOL_PREFIX,
  poolKey,
  RECORD_PREFIX,
  recordKey,
} from "./keys.ts";
import { type AllocationRecord, decodeRecord, RecordFormatError, recordMatches } from "./record.ts";

/** A record with the key it was read from; `modRevision` lets a release compare before deleting. */
export interface StoredRecord {
  record: AllocationRecord;
  modRevision: number;
}

/** A snapshot of anchor's keys. */
export interface AnchorState {
  /** namespace -> pool text. */
  pools: Map<string, string>;
  /** subnet as keyed -> gateway text. */
  gateways: Map<string, string>;
  /** record id -> record. */
  records: Map<string, StoredRecord>;
  /** Records whose value cannot be read; they are listed, never used or deleted by the engine. */
  unreadable: RecordFormatError[];
  /** canonical address -> the guard key's value (the owning record id) and revision. */
  guards: Map<string, KeyValue>;
}

/** Reads every anchor key in one call. */
export async function readState(store: Store): Promise<AnchorState> {
  return stateOf(await store.list(ANCHOR_PREFIX));
}

/** Builds a snapshot from listed keys (all under /anchor/); other keys, like the original's /anchor/lock, are ignored. */
export function stateOf(kvs: KeyValue[]): AnchorState {
  const state: AnchorState = {
    pools: new Map(),
    gateways: new Map(),
    records: new Map(),
    unreadable: [],
    guards: new Map(),
  };
  for (const kv of kvs) {
    const rest = (prefix: string) => kv.key.startsWith(prefix) ? kv.key.slice(prefix.length) : undefined;
    let name: string | undefined;
    if ((name = rest(POOL_PREFIX)) !== undefined) state.pools.set(name, kv.value);
    else if ((name = rest(GATEWAY_PREFIX)) !== undefined) state.gateways.set(name, kv.value.trim());
    else if ((name = rest(RECORD_PREFIX)) !== undefined) {
      try {
        state.records.set(name, { record: decodeRecord(name, kv.value), modRevision: kv.modRevision });
      } catch (e) {
        if (!(e instanceof RecordFormatError)) throw e;
        state.unreadable.push(e);
      }
    } else if ((name = rest(GUARD_PREFIX)) !== undefined) {
      const ip = tryParseIp(name);
      if (ip) state.guards.set(canonicalIp(name), kv);
    }
  }
  return state;
}

/**
 * What ADD needs, read without a scan: the namespace's pool, the gateways, the last address claimed from
 * the pool in the subnet ({@link lastKey}), and the container's own records (a prefix list of its keys,
 * for an idempotent ADD). Which addresses are taken is asked of the guards one address at a time by the
 * caller, or read with {@link takenAddresses} when that is needed. The reads are separate calls, not one
 * snapshot; the claim's transaction (record and guard absent) is what keeps two pods apart.
 * `state.records` and `state.unreadable` hold the container's records only, and `state.guards` is empty.
 * `guarded` is false until {@link backfillGuards} has given every record its guard: until then a guard
 * alone does not say an address is free.
 */
export async function readStateForAdd(
  store: Store,
  req: { containerId: string; namespace: string; subnet: Cidr },
  settled?: SettledKeys,
): Promise<{ state: AnchorState; guarded: boolean; settled: SettledKeys }> {
  const own = recordKey(req.containerId);
  const [fixed, records] = await Promise.all([
    settled ??
      Promise.all([
        store.get(GUARDED_KEY),
        store.get(poolKey(req.namespace)),
        store.list(GATEWAY_PREFIX),
        store.get(lastKey(req.namespace, formatCidr(req.subnet))),
      ]).then(([guarded, pool, gateways, last]) => ({ guarded, pool, gateways, last })),
    store.list(own),
  ]);
  // The prefix also lists longer container IDs ("abc" lists "abcd"); keep only this container's keys.
  const mine = records.filter((kv) => kv.key === own || kv.key.startsWith(`${own}:`));
  const state = stateOf([...(fixed.pool ? [fixed.pool] : []), ...fixed.gateways, ...mine]);
  return { state, guarded: fixed.guarded !== undefined, settled: fixed };
}

/**
 * Every address taken in the subnet, by a scan: the guard keys' names in the subnet's key range, the
 * container's own records, and until the backfill was done (`guarded` false) every record's address too.
 * Listing 5,000 guard names costs about 6 ms in a fresh process on the embedded store, so ADD scans only
 * when probing from the last claimed address met a run of taken ones, and for the exhausted pool's message.
 */
export async function takenAddresses(
  store: Store,
  subnet: Cidr,
  state: AnchorState,
  guarded: boolean,
): Promise<Set<string>> {
  const [guards, records] = await Promise.all([
    store.listKeys(guardRange(subnet)),
    guarded ? [] : store.list(RECORD_PREFIX),
  ]);
  const used = new Set<string>();
  for (const key of guards) addCanonical(used, key.slice(GUARD_PREFIX.length));
  for (const { record } of state.records.values()) used.add(record.ip);
  for (const kv of records) addCanonical(used, firstField(kv.value));
  return used;
}

/**
 * What one ADD reads once and keeps across its attempts: the backfill mark, the pool, the gateways and
 * the last claimed address. A lost race is about guards, so a retry reads only the container's records
 * (on etcd, one request instead of five, which counts when 25 ADDs race for the same addresses).
 */
export interface SettledKeys {
  guarded?: KeyValue;
  pool?: KeyValue;
  gateways: KeyValue[];
  last?: KeyValue;
}

/**
 * The guard keys' common prefix for a subnet: `/anchor/ip/10.8.` for 10.8.0.0/16, `/anchor/ip/10.0.1.`
 * for 10.0.1.0/24 (whole octets only, with their dot, so that 10.0.1. does not list 10.0.10.x). IPv6
 * text compresses zeros, so a v6 subnet lists every guard.
 */
export function guardRange(subnet: Cidr): string {
  if (subnet.family !== 4) return GUARD_PREFIX;
  const octets = formatIp({ family: 4, value: subnet.addr }).split(".");
  return GUARD_PREFIX + octets.slice(0, Math.floor(subnet.prefix / 8)).map((o) => `${o}.`).join("");
}

/**
 * Records per backfill transaction: two compares each, within etcd's default limit of 128 operations
 * of each kind per transaction (--max-txn-ops).
 */
const BACKFILL_BATCH = 60;

/**
 * Gives every record without a guard its guard, once per store, then writes {@link GUARDED_KEY}, so that
 * ADD reads guards alone ever after. The original anchor wrote records without guards, and its records
 * must still block their addresses. Each batch requires its records unchanged and their guards absent,
 * so a release or a claim meanwhile only costs another pass; two records on one address (the original
 * could collide across namespaces) need one guard. Returns how many guards were written.
 * @throws StoreConflictError (temporary) when the records kept changing.
 */
export function backfillGuards(store: Store): Promise<number> {
  return retryCas(GUARDED_KEY, async () => {
    if (await store.get(GUARDED_KEY)) return 0;
    const [records, guards] = await Promise.all([store.list(RECORD_PREFIX), store.listKeys(GUARD_PREFIX)]);
    const taken = new Set<string>();
    for (const key of guards) addCanonical(taken, key.slice(GUARD_PREFIX.length));
    const missing: { key: string; modRevision: number; ip: string; id: string }[] = [];
    for (const kv of records) {
      const found = new Set<string>();
      addCanonical(found, firstField(kv.value));
      const [ip] = found;
      if (ip === undefined || taken.has(ip)) continue;
      taken.add(ip);
      missing.push({ key: kv.key, modRevision: kv.modRevision, ip, id: kv.key.slice(RECORD_PREFIX.length) });
    }
    for (let i = 0; i < missing.length; i += BACKFILL_BATCH) {
      const batch = missing.slice(i, i + BACKFILL_BATCH);
      const won = await store.txn(
        batch.flatMap((
          m,
        ) => [{ key: m.key, modRevision: m.modRevision }, { key: guardKey(m.ip), exists: false }]),
        batch.map((m) => ({ put: guardKey(m.ip), value: m.id })),
      );
      if (!won) return LOST_RACE;
    }
    await store.txn([{ key: GUARDED_KEY, exists: false }], [{
      put: GUARDED_KEY,
      value: new Date().toISOString(),
    }]);
    return missing.length;
  });
}

/** A record's first field, its address (README, store keys); an unreadable record yields text that is no address. */
function firstField(value: string): string {
  const comma = value.indexOf(",");
  return (comma < 0 ? value : value.slice(0, comma)).trim();
}

/** A dotted quad without leading zeros: already the canonical text formatIp writes. */
const CANONICAL_V4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Adds an address's canonical text; the usual IPv4 text is taken as it is, since parsing costs more. */
function addCanonical(used: Set<string>, text: string): void {
  if (CANONICAL_V4.test(text)) {
    used.add(text);
    return;
  }
  const ip = tryParseIp(text);
  if (ip) used.add(formatIp(ip));
}

/**
 * Every address in use: guarded ones, and those in any record, since the original anchor wrote records
 * without guards and scanned only its own namespace (so addresses could collide across namespaces).
 */
export function usedAddresses(state: AnchorState): Set<string> {
  const used = new Set(state.guards.keys());
  for (const { record } of state.records.values()) used.add(record.ip);
  return used;
}

/** The record of a container's interface: an exact ifname match first, then an original record. */
export function findRecord(
  state: AnchorState,
  containerId: string,
  ifname: string,
): StoredRecord | undefined {
  let legacy: StoredRecord | undefined;
  for (const r of state.records.values()) {
    if (!recordMatches(r.record, containerId, ifname)) continue;
    if (r.record.ifname === ifname) return r;
    legacy ??= r;
  }
  return legacy;
}

/**
 * The stored gateway of a subnet: the canonical key first, then any key naming the same block however
 * it is spelled (the original keyed by the annotation's text as written).
 */
export function storedGateway(
  state: AnchorState,
  subnet: Cidr,
): { key: string; gateway: string } | undefined {
  const canonical = formatCidr(subnet);
  const exact = state.gateways.get(canonical);
  if (exact !== undefined) return { key: canonical, gateway: exact };
  for (const [key, gateway] of state.gateways) {
    const c = tryParseCidr(key);
    if (c && sameNetwork(c, subnet)) return { key, gateway };
  }
  return undefined;
}
