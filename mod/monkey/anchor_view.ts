/**
 * What the API shows of anchor's keys: pools with counts, gateways, allocations with their subnet.
 * Built from one listing of /anchor/ through mod/ipam's reader, so the page is one consistent snapshot
 * and counts the way ADD does (an address is used when a record or a guard holds it).
 */
import {
  type Cidr,
  contains,
  countRanges,
  type IpAddr,
  type IpRange,
  networkOf,
  parseRanges,
  rangesContain,
  tryParseCidr,
  tryParseIp,
} from "../ip/mod.ts";
import {
  type AnchorState,
  GATEWAY_PREFIX,
  POOL_PREFIX,
  RECORD_PREFIX,
  stateOf,
  usedAddresses,
} from "../ipam/mod.ts";
import type { KeyValue } from "../store/mod.ts";

/** A namespace's pool. Counts are JSON numbers (exact up to 2^53, approximate for huge IPv6 pools). */
export interface PoolView {
  namespace: string;
  /** The pool string as stored, e.g. "10.0.1.[2-9],10.0.2.8". */
  ranges: string;
  /** modRevision of `/anchor/ns/<namespace>`, for If-Match. */
  revision: number;
  /** Addresses the ranges hold. */
  total: bigint;
  /** Of those, addresses a container holds (in any namespace: an address belongs to one container). */
  used: number;
  /** Of those, subnet gateways, which are never handed out. */
  reserved: number;
  /** total - used - reserved. */
  free: bigint;
  /** Malformed items of a hand-written value; ADD refuses such a pool until it is fixed. */
  problems: string[];
}

/** A subnet's gateway. */
export interface GatewayView {
  /** As keyed in the store, normally canonical: "10.0.1.0/24". */
  subnet: string;
  gateway: string;
  revision: number;
  /** Allocations whose address lies in the subnet. */
  used: number;
  problems: string[];
}

/** One allocation record. */
export interface AllocationView {
  /** The record id: the container ID, or `<containerID>:<ifname>` for a container's further interface. */
  id: string;
  containerID: string;
  ip: string;
  pod: string;
  namespace: string;
  controller: string;
  /** Written by this program's anchor; absent in records the original wrote. */
  ifname?: string;
  node?: string;
  network?: string;
  time?: string;
  /** The most specific subnet with a gateway that holds the address, or "" when none does. */
  subnet: string;
  revision: number;
  problems: string[];
}

interface Gateway {
  view: GatewayView;
  cidr?: Cidr;
  addr?: IpAddr;
}

/** One listing of /anchor/, indexed for the views. */
export class AnchorSnapshot {
  readonly state: AnchorState;
  readonly #revisions = new Map<string, number>();
  readonly #gateways: Gateway[] = [];
  /** Every held address, parsed once. */
  readonly #used: IpAddr[] = [];

  constructor(keys: KeyValue[]) {
    this.state = stateOf(keys);
    for (const kv of keys) this.#revisions.set(kv.key, kv.modRevision);
    for (const [subnet, gateway] of this.state.gateways) {
      this.#gateways.push(parseGateway(subnet, gateway, this.#revision(GATEWAY_PREFIX + subnet)));
    }
    for (const ip of usedAddresses(this.state)) {
      const addr = tryParseIp(ip);
      if (addr) this.#used.push(addr);
    }
    for (const g of this.#gateways) {
      g.view.used = g.cidr ? this.#used.filter((a) => contains(g.cidr!, a)).length : 0;
    }
  }

  /** Every pool with its counts, by namespace. */
  poolViews(): PoolView[] {
    return [...this.state.pools.keys()].map((ns) => this.poolView(ns)!);
  }

  /** One pool with its counts, or undefined when the namespace has none. */
  poolView(namespace: string): PoolView | undefined {
    const text = this.state.pools.get(namespace);
    if (text === undefined) return undefined;
    const parsed = parseRanges(text);
    const total = countRanges(parsed.ranges);
    const used = countIn(parsed.ranges, this.#used);
    const reserved = countIn(parsed.ranges, this.#gateways.flatMap((g) => g.addr ? [g.addr] : []));
    const free = total - BigInt(used + reserved);
    return {
      namespace,
      ranges: text,
      revision: this.#revision(POOL_PREFIX + namespace),
      total,
      used,
      reserved,
      free: free < 0n ? 0n : free,
      problems: parsed.errors.map((e) => e.message),
    };
  }

  /** Every gateway, with how many allocations its subnet holds. */
  gatewayViews(): GatewayView[] {
    return this.#gateways.map((g) => g.view);
  }

  /** Every allocation record, unreadable ones included with their problem, so leaks can be released. */
  allocationViews(): AllocationView[] {
    // Most specific first, so the first gateway subnet holding an address is the one it belongs to.
    const subnets = this.#gateways.filter((g) => g.cidr).sort((x, y) => y.cidr!.prefix - x.cidr!.prefix);
    const subnetOf = (ip: string) => {
      const addr = tryParseIp(ip);
      return (addr && subnets.find((g) => contains(g.cidr!, addr))?.view.subnet) ?? "";
    };
    const views: AllocationView[] = [];
    for (const { record: r, modRevision } of this.state.records.values()) {
      views.push({
        id: r.id,
        containerID: r.containerId,
        ip: r.ip,
        pod: r.podName,
        namespace: r.podNamespace,
        controller: r.controller,
        ...(r.ifname !== undefined && { ifname: r.ifname, node: r.node, network: r.network, time: r.time }),
        subnet: subnetOf(r.ip),
        revision: modRevision,
        problems: [],
      });
    }
    for (const e of this.state.unreadable) {
      views.push({
        id: e.id,
        containerID: e.id.split(":")[0],
        ip: "",
        pod: "",
        namespace: "",
        controller: "",
        subnet: "",
        revision: this.#revision(RECORD_PREFIX + e.id),
        problems: [e.problem],
      });
    }
    return views;
  }

  #revision(key: string): number {
    return this.#revisions.get(key) ?? 0;
  }
}

/** A gateway as stored; a malformed subnet or gateway is shown with a problem, not hidden. */
function parseGateway(subnet: string, gateway: string, revision: number): Gateway {
  const view: GatewayView = { subnet, gateway, revision, used: 0, problems: [] };
  const cidr = tryParseCidr(subnet);
  const addr = tryParseIp(gateway);
  if (!cidr) view.problems.push(`the key's subnet "${subnet}" is not a CIDR block`);
  if (!addr) view.problems.push(`the gateway "${gateway}" is not an address`);
  if (cidr && addr && !contains(cidr, addr)) {
    view.problems.push(`the gateway ${gateway} is outside ${subnet}`);
  }
  return { view, cidr: cidr && networkOf(cidr), addr };
}

/** How many of `addrs` (distinct) lie in the merged ranges. */
function countIn(ranges: IpRange[], addrs: IpAddr[]): number {
  let n = 0;
  for (const a of addrs) if (rangesContain(ranges, a)) n++;
  return n;
}
