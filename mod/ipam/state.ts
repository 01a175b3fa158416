/**
 * Everything anchor keeps, read in one `list` so that pools, gateways, records and guards come from
 * the same revision: an ADD writes a record and its guard in one transaction, so a snapshot never
 * shows one without the other unless something outside anchor wrote the store.
 */
import type { KeyValue, Store } from "../store/mod.ts";
import {
  canonicalIp,
  type Cidr,
  formatCidr,
  formatIp,
  sameNetwork,
  tryParseCidr,
  tryParseIp,
} from "../ip/mod.ts";
import { ANCHOR_PREFIX, GATEWAY_PREFIX, GUARD_PREFIX, POOL_PREFIX, RECORD_PREFIX } from "./keys.ts";
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
 * What ADD needs, from the same single `list` as readState, but decoding only the container's own
 * records: every other record and guard contributes its address alone. ADD on a store holding
 * thousands of allocations then costs one scan of short strings, not thousands of decoded records.
 * `state.records` and `state.unreadable` hold the container's records only, and `state.guards` is empty;
 * `used` is what usedAddresses would answer on the full state.
 */
export async function readStateForAdd(
  store: Store,
  containerId: string,
): Promise<{ state: AnchorState; used: Set<string> }> {
  const kvs = await store.list(ANCHOR_PREFIX);
  const own = `${RECORD_PREFIX}${containerId}`;
  const mine: KeyValue[] = [];
  const used = new Set<string>();
  const others: KeyValue[] = [];
  for (const kv of kvs) {
    if (kv.key === own || kv.key.startsWith(`${own}:`)) mine.push(kv);
    else if (kv.key.startsWith(RECORD_PREFIX)) {
      // A record's first field is its address (README, store keys); an unreadable one holds none.
      const comma = kv.value.indexOf(",");
      addCanonical(used, (comma < 0 ? kv.value : kv.value.slice(0, comma)).trim());
    } else if (kv.key.startsWith(GUARD_PREFIX)) addCanonical(used, kv.key.slice(GUARD_PREFIX.length));
    else others.push(kv);
  }
  const state = stateOf([...others, ...mine]);
  for (const { record } of state.records.values()) used.add(record.ip);
  return { state, used };
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
