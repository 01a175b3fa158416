/**
 * ADD: the next free address of the namespace's pool inside the pod's subnet, claimed atomically.
 *
 * As host-local does (containernetworking/plugins, plugins/ipam/host-local/backend/allocator), each
 * attempt walks the pool from the address after the last one claimed there (`/anchor/last/`), asking
 * each candidate's guard key with a point lookup, so the cost does not grow with the number of
 * allocations. After a run of taken candidates it lists the subnet's guard names once instead. It then
 * writes the record, the address's guard and the new last address in one transaction that requires the
 * record and the guard to be absent. Losing the race to another process or node only costs another
 * attempt; no lock is held, so a crashed plugin blocks nobody.
 */
import { LOST_RACE, retryCas } from "../store/retry.ts";
import type { Store } from "../store/types.ts";
import { type Cidr, formatCidr } from "../ip/cidr.ts";
import { countRanges, filterToSubnet, type IpRange, iterateRanges, rangesContain } from "../ip/ranges.ts";
import { formatIp, type IpAddr, parseIp, tryParseIp } from "../ip/addr.ts";
import { GatewayNotFoundError, NoPoolError, PoolExhaustedError } from "./errors.ts";
import { GUARD_PREFIX, guardKey, lastKey, recordId, recordKey } from "./keys.ts";
import { parsePool } from "./pool.ts";
import { type AllocationRecord, encodeRecord } from "./record.ts";
import {
  type AnchorState,
  backfillGuards,
  findRecord,
  readStateForAdd,
  type SettledKeys,
  storedGateway,
  takenAddresses,
} from "./state.ts";
import { checkGateway } from "./subnet.ts";

/** What ADD needs to know about the pod. */
export interface AllocateRequest {
  containerId: string;
  ifname: string;
  /** The pod's namespace: it picks the pool. */
  namespace: string;
  podName: string;
  controller: string;
  /** The pod's subnet, already checked with checkSubnet. */
  subnet: Cidr;
  /** A gateway the pod names itself (annotation), already checked with checkGateway; else the store's. */
  gateway?: IpAddr;
  node: string;
  network: string;
  /** Attempts before giving up with StoreConflictError (default: the store's DEFAULT_CAS_ATTEMPTS). */
  maxAttempts?: number;
  /** The record's timestamp; tests pin it. */
  now?: Date;
}

/** The outcome of ADD. */
export interface Allocation {
  record: AllocationRecord;
  address: IpAddr;
  gateway: IpAddr;
  subnet: Cidr;
  /** True when the container already held this address (a repeated ADD). */
  reused: boolean;
  /** Snapshots read before the claim held; more than 1 means races were lost on the way. */
  attempts: number;
  /** Pool ranges left out because they lie outside the subnet; the caller warns about them. */
  skipped: IpRange[];
}

/**
 * Allocates an address, or returns the one the container's interface already holds.
 * @throws NoPoolError, PoolSyntaxError, PoolExhaustedError, GatewayNotFoundError, GatewayError, or
 *   StoreConflictError (temporary) when every attempt lost a race.
 */
export function allocate(store: Store, req: AllocateRequest): Promise<Allocation> {
  let settled: SettledKeys | undefined;
  /** The address the last attempt lost to another claim. */
  let lost: IpAddr | undefined;
  return retryCas(GUARD_PREFIX, async (attempt) => {
    const read = await readStateForAdd(store, req, settled);
    const { state, guarded } = read;
    settled = read.settled;
    const gateway = req.gateway ?? gatewayFromStore(state, req.subnet);
    const held = findRecord(state, req.containerId, req.ifname);
    if (held) {
      return {
        record: held.record,
        address: parseIp(held.record.ip),
        gateway,
        subnet: req.subnet,
        reused: true,
        attempts: attempt + 1,
        skipped: [],
      };
    }
    const { ranges, skipped } = poolRanges(state, req);
    const reserved = reservedAddresses(state, req.subnet, gateway);
    // The first attempt starts after the last address claimed, as host-local does; after losing a race
    // the start spreads over more addresses past the lost one, so that racers stop colliding on one.
    const from = lost === undefined
      ? after(ranges, lastClaimed(settled.last?.value, req.subnet), 0)
      : after(ranges, lost, Math.floor(Math.random() * Math.min(2 ** attempt, 64)));
    // Until every record has its guard, a guard alone does not say an address is free.
    const address = (guarded ? await probe(store, ranges, from, reserved) : undefined) ??
      await scan(store, req, { ranges, from, reserved, state, guarded, gateway });
    const primary = !state.records.has(req.containerId) &&
      !state.unreadable.some((e) => e.id === req.containerId);
    const record: AllocationRecord = {
      id: recordId(req.containerId, req.ifname, primary),
      containerId: req.containerId,
      ip: formatIp(address),
      podName: req.podName,
      podNamespace: req.namespace,
      controller: req.controller,
      ifname: req.ifname,
      node: req.node,
      network: req.network,
      time: (req.now ?? new Date()).toISOString(),
    };
    const cn = recordKey(record.id), guard = guardKey(record.ip);
    // The last address is a hint, put without a compare: racing ADDs never retry because of it.
    const won = await store.txn(
      [{ key: cn, exists: false }, { key: guard, exists: false }],
      [
        { put: cn, value: encodeRecord(record) },
        { put: guard, value: record.id },
        { put: lastKey(req.namespace, formatCidr(req.subnet)), value: record.ip },
      ],
    );
    if (!won) {
      lost = address;
      return LOST_RACE;
    }
    // The first ADD that claims on a store with records lacking guards (the original's) guards them, so
    // that later ADDs need not read the records. Not before the claim: an ADD that fails writes nothing.
    // The claim stands either way; a backfill that fails is tried again by the next ADD.
    if (!guarded) await backfillGuards(store).catch(() => undefined);
    return { record, address, gateway, subnet: req.subnet, reused: false, skipped, attempts: attempt + 1 };
  }, { attempts: req.maxAttempts });
}

/** Candidates ADD asks about one guard at a time before it lists the subnet's guards instead. */
const PROBES = 16;

/** The stored last claimed address, when it is an address of the subnet's family; else none. */
function lastClaimed(text: string | undefined, subnet: Cidr): IpAddr | undefined {
  const ip = tryParseIp(text?.trim() ?? "");
  return ip?.family === subnet.family ? ip : undefined;
}

/**
 * Where a walk of the pool starts: `skip` pool addresses past the one after `ip` (wrapping around), or
 * the pool's first address when there is no `ip`.
 */
function after(ranges: IpRange[], ip: IpAddr | undefined, skip: number): bigint {
  if (ip === undefined) return 0n;
  let n = 0;
  for (const next of iterateRanges(ranges, ip.value + 1n)) {
    if (n++ === skip) return next.value;
  }
  return ip.value + 1n;
}

/**
 * The first address from `from` on (wrapping around) whose guard is absent, asking one guard at a time;
 * undefined after {@link PROBES} taken ones, or when the pool has nothing else to ask.
 */
async function probe(
  store: Store,
  ranges: IpRange[],
  from: bigint,
  reserved: Set<string>,
): Promise<IpAddr | undefined> {
  let asked = 0;
  for (const ip of iterateRanges(ranges, from)) {
    const text = formatIp(ip);
    if (reserved.has(text)) continue;
    if (asked++ === PROBES) return undefined;
    if (!(await store.get(guardKey(text)))) return ip;
  }
  return undefined;
}

/**
 * The first address from `from` on (wrapping around) that no guard or record holds, read with one scan.
 * @throws PoolExhaustedError when there is none.
 */
async function scan(
  store: Store,
  req: AllocateRequest,
  o: {
    ranges: IpRange[];
    from: bigint;
    reserved: Set<string>;
    state: AnchorState;
    guarded: boolean;
    gateway: IpAddr;
  },
): Promise<IpAddr> {
  const used = await takenAddresses(store, req.subnet, o.state, o.guarded);
  for (const ip of iterateRanges(o.ranges, o.from)) {
    const text = formatIp(ip);
    if (!used.has(text) && !o.reserved.has(text)) return ip;
  }
  throw exhausted(req, o.ranges, o.state, used, o.gateway);
}

function gatewayFromStore(state: AnchorState, subnet: Cidr): IpAddr {
  const stored = storedGateway(state, subnet);
  if (!stored) throw new GatewayNotFoundError(formatCidr(subnet));
  return checkGateway(stored.gateway, subnet, `gateway /anchor/gw/${stored.key}`);
}

function poolRanges(state: AnchorState, req: AllocateRequest): { ranges: IpRange[]; skipped: IpRange[] } {
  const text = state.pools.get(req.namespace);
  if (text === undefined) throw new NoPoolError(req.namespace);
  return filterToSubnet(parsePool(text, `pool /anchor/ns/${req.namespace}`), req.subnet);
}

/**
 * Addresses no pod may get besides those guarded: the pod's gateway, the subnet's stored gateway even
 * when a pod overrides it (that router is still on the link for the subnet's other pods), and the
 * container's own records' addresses.
 */
function reservedAddresses(state: AnchorState, subnet: Cidr, gateway: IpAddr): Set<string> {
  const reserved = new Set([formatIp(gateway)]);
  const stored = tryParseIp(storedGateway(state, subnet)?.gateway ?? "");
  if (stored) reserved.add(formatIp(stored));
  for (const { record } of state.records.values()) reserved.add(record.ip);
  return reserved;
}

/** The error for a pool with nothing free, saying what its addresses are spent on. */
function exhausted(
  req: AllocateRequest,
  ranges: IpRange[],
  state: AnchorState,
  used: Set<string>,
  gateway: IpAddr,
): PoolExhaustedError {
  const reserved = new Map<string, string>();
  const stored = tryParseIp(storedGateway(state, req.subnet)?.gateway ?? "");
  const same = stored !== undefined && formatIp(stored) === formatIp(gateway);
  for (
    const [ip, why] of [[gateway, same ? "gateway" : "the pod's gateway"], [
      stored,
      "the subnet's gateway",
    ]] as const
  ) {
    if (ip && rangesContain(ranges, ip) && !reserved.has(formatIp(ip))) reserved.set(formatIp(ip), why);
  }
  let allocated = 0n;
  for (const text of used) {
    const ip = tryParseIp(text);
    if (ip && !reserved.has(text) && rangesContain(ranges, ip)) allocated++;
  }
  return new PoolExhaustedError(req.namespace, formatCidr(req.subnet), countRanges(ranges), {
    allocated,
    reserved: [...reserved].map(([ip, why]) => `${ip} (${why})`),
  });
}
