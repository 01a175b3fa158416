/**
 * ADD: the first free address of the namespace's pool inside the pod's subnet, claimed atomically.
 *
 * Each attempt reads a snapshot (one `list`), picks an address, and writes the record and the
 * address's guard in one transaction that requires both keys to be absent. Losing the race to another
 * process or node only costs another attempt; no lock is held, so a crashed plugin blocks nobody.
 */
import { LOST_RACE, retryCas } from "../store/retry.ts";
import type { Store } from "../store/types.ts";
import { type Cidr, formatCidr } from "../ip/cidr.ts";
import { countRanges, filterToSubnet, type IpRange, iterateRanges, rangesContain } from "../ip/ranges.ts";
import { formatIp, type IpAddr, parseIp, tryParseIp } from "../ip/addr.ts";
import { GatewayNotFoundError, NoPoolError, PoolExhaustedError } from "./errors.ts";
import { GUARD_PREFIX, guardKey, recordId, recordKey } from "./keys.ts";
import { parsePool } from "./pool.ts";
import { type AllocationRecord, encodeRecord } from "./record.ts";
import {
  type AnchorState,
  backfillGuards,
  findRecord,
  readStateForAdd,
  type SettledKeys,
  storedGateway,
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
  return retryCas(GUARD_PREFIX, async (attempt) => {
    const read = await readStateForAdd(store, req, settled);
    const { state, used, guarded } = read;
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
    const free = freeAddresses(ranges, takenAddresses(state, used, req.subnet, gateway), pickWindow(attempt));
    if (free.length === 0) throw exhausted(req, ranges, state, used, gateway);
    // The first attempt takes the first free address, as the original did; after losing a race the
    // pick spreads over more free addresses so that racers stop colliding on the same one.
    const address = free[Math.floor(Math.random() * free.length)];
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
    const won = await store.txn(
      [{ key: cn, exists: false }, { key: guard, exists: false }],
      [{ put: cn, value: encodeRecord(record) }, { put: guard, value: record.id }],
    );
    if (!won) return LOST_RACE;
    // The first ADD that claims on a store with records lacking guards (the original's) guards them, so
    // that later ADDs need not read the records. Not before the claim: an ADD that fails writes nothing.
    // The claim stands either way; a backfill that fails is tried again by the next ADD.
    if (!guarded) await backfillGuards(store).catch(() => undefined);
    return { record, address, gateway, subnet: req.subnet, reused: false, skipped, attempts: attempt + 1 };
  }, { attempts: req.maxAttempts });
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
 * Addresses no pod may get: those in use, the pod's gateway, and the subnet's stored gateway even when a
 * pod overrides it, since that router is still on the link for the subnet's other pods.
 */
function takenAddresses(state: AnchorState, used: Set<string>, subnet: Cidr, gateway: IpAddr): Set<string> {
  const taken = new Set(used);
  taken.add(formatIp(gateway));
  const stored = tryParseIp(storedGateway(state, subnet)?.gateway ?? "");
  if (stored) taken.add(formatIp(stored));
  return taken;
}

/** Up to `limit` addresses of the ranges, in order, that are not taken. */
function freeAddresses(ranges: IpRange[], taken: Set<string>, limit: number): IpAddr[] {
  const out: IpAddr[] = [];
  for (const ip of iterateRanges(ranges)) {
    if (taken.has(formatIp(ip))) continue;
    out.push(ip);
    if (out.length >= limit) break;
  }
  return out;
}

function pickWindow(attempt: number): number {
  return attempt === 0 ? 1 : Math.min(2 ** attempt, 64);
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
