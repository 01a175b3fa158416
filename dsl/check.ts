/**
 * Whole-file checks: references, duplicates, subnets, pools and links. Everything is reported in
 * one pass; lookups are Maps and overlap checks sort once, so a 10,000-link file stays fast.
 */
import { formatIp, type IpAddr, parseIp } from "../mod/ip/addr.ts";
import {
  broadcastOf,
  type Cidr,
  contains,
  formatCidr,
  hostMask,
  networkOf,
  parseCidr,
} from "../mod/ip/cidr.ts";
import { formatRange, type IpRange, parseRanges, rangesContain } from "../mod/ip/ranges.ts";
import type { Reporter } from "./report.ts";
import type { LinkEndDecl, NodeDecl, PodDecl, Pos, Topology } from "./types.ts";

const where = (p: Pos) => `line ${p.line}`;
const later = (a: Pos, b: Pos) => (a.line > b.line || (a.line === b.line && a.col > b.col) ? a : b);

/** "network-address" or "broadcast-address" when an IPv4 host address is its block's first or last. */
function notAHost(c: Cidr): string | undefined {
  if (c.family !== 4 || c.prefix > 30) return undefined;
  // Mask arithmetic only: this runs for every address in the file, and networkOf allocates.
  const mask = hostMask(4, c.prefix);
  const host = c.addr & mask;
  return host === 0n ? "network-address" : host === mask ? "broadcast-address" : undefined;
}

function reportNotAHost(r: Reporter, c: Cidr, pos: Pos, what: string): void {
  const code = notAHost(c);
  if (!code) return;
  const which = code === "network-address" ? "network" : "broadcast";
  r.error(
    pos,
    code,
    `${what} ${formatIp({ family: c.family, value: c.addr })} is the ${which} address of ${
      formatCidr(networkOf(c))
    }`,
  );
}

/** An address someone uses as a host; two of them on one key is a duplicate. */
interface Claim {
  /** The canonical text, unique per address and a much cheaper Map key than a bigint. */
  key: string;
  ip: IpAddr;
  kind: "node" | "master" | "link";
  owner: string;
  what: string;
  pos: Pos;
}

function firstByName<T extends { name: string; namePos: Pos }>(
  list: T[],
  r: Reporter,
  what: string,
): Map<string, T> {
  const map = new Map<string, T>();
  for (const d of list) {
    const prev = map.get(d.name);
    if (prev) {
      r.error(
        d.namePos,
        "duplicate-name",
        `${what} "${d.name}" is already declared on ${where(prev.namePos)}`,
      );
    } else map.set(d.name, d);
  }
  return map;
}

/** A subnet that gateways and masters define; pools and addresses are checked against these. */
interface Subnet {
  cidr: Cidr;
  text: string;
  pos: Pos;
  gateway?: string;
  gatewayPos?: Pos;
}

function checkSubnets(topo: Topology, r: Reporter, nodes: Map<string, NodeDecl>, claims: Claim[]): Subnet[] {
  const subnets = new Map<string, Subnet>();
  const masterIfaces = new Map<string, Pos>();
  const masterSubnets = new Map<string, Pos>();
  const gatewayStatements = new Map<string, Pos>();
  const setGateway = (s: Subnet, gw: string, pos: Pos) => {
    const g = parseIp(gw);
    if (!contains(s.cidr, g)) {
      r.error(pos, "gateway-outside-subnet", `gateway ${gw} is outside its subnet ${s.text}`);
      return;
    }
    reportNotAHost(r, { family: g.family, addr: g.value, prefix: s.cidr.prefix }, pos, "gateway");
    if (s.gateway === undefined) {
      s.gateway = gw;
      s.gatewayPos = pos;
    } else if (s.gateway !== gw) {
      r.error(
        pos,
        "gateway-conflict",
        `${s.text} already has gateway ${s.gateway} (${where(s.gatewayPos!)}), not ${gw}`,
      );
    }
  };
  const subnetOf = (text: string, pos: Pos) => {
    let s = subnets.get(text);
    if (!s) subnets.set(text, s = { cidr: parseCidr(text), text, pos });
    return s;
  };
  // Masters and gateway statements in file order, so a conflict is reported where it is introduced.
  const items = [
    ...topo.masters.map((m) => ({ pos: m.pos, m, g: undefined })),
    ...topo.gateways.map((g) => ({ pos: g.pos, m: undefined, g })),
  ].sort((a, b) => a.pos.line - b.pos.line);
  for (const { m, g } of items) {
    if (m) {
      if (!nodes.has(m.node)) r.error(m.nodePos, "unknown-node", `master on unknown node "${m.node}"`);
      const ifKey = `${m.node}\0${m.iface}`, netKey = `${m.node}\0${m.subnet}`;
      if (masterIfaces.has(ifKey)) {
        r.error(
          m.ifacePos,
          "duplicate-master",
          `${m.node} ${m.iface} is already a master on ${where(masterIfaces.get(ifKey)!)}`,
        );
        continue;
      }
      masterIfaces.set(ifKey, m.pos);
      if (masterSubnets.has(netKey)) {
        r.error(
          m.ipPos,
          "duplicate-subnet",
          `${m.node} already has a master for ${m.subnet} on ${where(masterSubnets.get(netKey)!)}`,
        );
      } else masterSubnets.set(netKey, m.pos);
      const c = parseCidr(`${m.ip}/${m.prefix}`);
      reportNotAHost(r, c, m.ipPos, "master address");
      const ip = parseIp(m.ip);
      claims.push({
        key: m.ip,
        ip,
        kind: "master",
        owner: m.node,
        what: `master ${m.node} ${m.iface}`,
        pos: m.ipPos,
      });
      const s = subnetOf(m.subnet, m.ipPos);
      if (m.gateway !== undefined) setGateway(s, m.gateway, m.gatewayPos!);
    } else if (g) {
      const prev = gatewayStatements.get(g.subnet);
      if (prev) {
        r.error(g.subnetPos, "duplicate-gateway", `gateway for ${g.subnet} is already set on ${where(prev)}`);
        continue;
      }
      gatewayStatements.set(g.subnet, g.pos);
      setGateway(subnetOf(g.subnet, g.subnetPos), g.gateway, g.gatewayPos);
    }
  }
  const list = [...subnets.values()];
  // Sorted by (family, network), an overlap can only be with a block before it that reaches this far.
  const sorted = list.slice().sort((a, b) =>
    a.cidr.family - b.cidr.family ||
    (a.cidr.addr < b.cidr.addr ? -1 : a.cidr.addr > b.cidr.addr ? 1 : a.cidr.prefix - b.cidr.prefix)
  );
  let reach: Subnet | undefined;
  for (const s of sorted) {
    if (reach && reach.cidr.family === s.cidr.family && broadcastOf(reach.cidr).value >= s.cidr.addr) {
      const [first, second] = later(reach.pos, s.pos) === s.pos ? [reach, s] : [s, reach];
      r.warn(
        second.pos,
        "overlapping-subnets",
        `${second.text} overlaps ${first.text} (${where(first.pos)})`,
      );
    }
    if (
      !reach || reach.cidr.family !== s.cidr.family ||
      broadcastOf(s.cidr).value > broadcastOf(reach.cidr).value
    ) reach = s;
  }
  return list;
}

interface PoolItem {
  namespace: string;
  item: string;
  range: IpRange;
  pos: Pos;
}

function checkPools(topo: Topology, r: Reporter, subnets: Subnet[]): Map<string, IpRange[]> {
  const byNamespace = new Map<string, IpRange[]>();
  const seen = new Map<string, Pos>();
  const items: PoolItem[] = [];
  for (const p of topo.pools) {
    const prev = seen.get(p.namespace);
    if (prev) {
      r.error(
        p.namespacePos,
        "duplicate-pool",
        `namespace "${p.namespace}" already has a pool on ${where(prev)}`,
      );
      continue;
    }
    seen.set(p.namespace, p.pos);
    const parsed = parseRanges(p.ranges);
    for (const e of parsed.errors) {
      r.error({ line: p.rangesPos.line, col: p.rangesPos.col + e.index }, "bad-range", e.message);
    }
    byNamespace.set(p.namespace, parsed.ranges);
    for (const it of parsed.items) {
      const pos = { line: p.rangesPos.line, col: p.rangesPos.col + it.index };
      items.push({ namespace: p.namespace, item: it.item, range: it.range, pos });
      checkPoolItem(r, it.item, it.range, pos, subnets);
    }
  }
  // Two namespaces drawing from the same addresses is how anchor's cross-namespace duplicates began.
  items.sort((a, b) =>
    a.range.family - b.range.family ||
    (a.range.start < b.range.start ? -1 : a.range.start > b.range.start ? 1 : 0)
  );
  let reach: PoolItem | undefined;
  for (const it of items) {
    if (
      reach && reach.range.family === it.range.family && reach.range.end >= it.range.start &&
      reach.namespace !== it.namespace
    ) {
      const [first, second] = later(reach.pos, it.pos) === it.pos ? [reach, it] : [it, reach];
      r.warn(
        second.pos,
        "pool-overlap",
        `pool item "${second.item}" of ${second.namespace} overlaps "${first.item}" of ${first.namespace} (${
          where(first.pos)
        })`,
      );
    }
    if (!reach || reach.range.family !== it.range.family || it.range.end > reach.range.end) reach = it;
  }
  return byNamespace;
}

function checkPoolItem(r: Reporter, item: string, range: IpRange, pos: Pos, subnets: Subnet[]): void {
  const start: IpAddr = { family: range.family, value: range.start };
  const end: IpAddr = { family: range.family, value: range.end };
  const home = subnets.find((s) => contains(s.cidr, start) && contains(s.cidr, end));
  if (!home) {
    const known = subnets.length
      ? subnets.map((s) => s.text).join(", ")
      : "none: add gateway or master statements";
    r.warn(
      pos,
      "pool-outside-subnet",
      `pool item "${item}" (${formatRange(range)}) is outside every known subnet (${known})`,
    );
    return;
  }
  const c = home.cidr;
  if (c.family !== 4 || c.prefix > 30) return;
  const edges: [string, bigint][] = [["network", networkOf(c).addr], ["broadcast", broadcastOf(c).value]];
  for (const [which, addr] of edges) {
    if (range.start > addr || addr > range.end) continue;
    const shown = formatIp({ family: 4, value: addr });
    r.error(
      pos,
      `${which}-address`,
      `pool item "${item}" includes ${shown}, the ${which} address of ${home.text}`,
    );
    return;
  }
}

/**
 * Names a link end can never get: `lo` exists in every namespace, and `eth0` is CNI_IFNAME's usual value,
 * which the runtime gives the pod's main interface (boot network or delegate) before ratchet's links;
 * ADD refuses a taken name with EEXIST (CNI spec, ADD: "an interface of that name must not exist").
 */
const RESERVED_IFNAMES = new Map<string, string>([
  ["lo", "already exists in every network namespace"],
  [
    "eth0",
    "is the usual CNI_IFNAME, which the runtime gives the pod's main interface; ADD would fail with EEXIST",
  ],
]);

function checkLinkEnd(
  r: Reporter,
  e: LinkEndDecl,
  pods: Map<string, PodDecl>,
  ifnames: Map<string, Pos>,
  claims: Claim[],
  podNets: Map<string, { net: Cidr; pos: Pos; ifname: string }[]>,
): Cidr | undefined {
  if (!pods.has(e.pod)) r.error(e.pos, "unknown-pod", `unknown pod "${e.pod}"`);
  const reserved = RESERVED_IFNAMES.get(e.ifname);
  if (reserved) r.error(e.ifnamePos, "reserved-ifname", `"${e.ifname}" ${reserved}`);
  const k = `${e.pod}\0${e.ifname}`;
  const prev = ifnames.get(k);
  if (prev) {
    r.error(e.ifnamePos, "duplicate-ifname", `${e.pod}:${e.ifname} is already used on ${where(prev)}`);
  } else ifnames.set(k, e.pos);
  if (e.ip === undefined) return undefined;
  const c = parseCidr(e.ip);
  reportNotAHost(r, c, e.ipPos!, "address");
  const ip = { family: c.family, value: c.addr };
  claims.push({
    key: e.ip.slice(0, e.ip.indexOf("/")),
    ip,
    kind: "link",
    owner: e.pod,
    what: `${e.pod}:${e.ifname}`,
    pos: e.ipPos!,
  });
  let nets = podNets.get(e.pod);
  if (!nets) podNets.set(e.pod, nets = []);
  nets.push({ net: networkOf(c), pos: e.ipPos!, ifname: e.ifname });
  return c;
}

function checkLinks(topo: Topology, r: Reporter, pods: Map<string, PodDecl>, claims: Claim[]): void {
  const ifnames = new Map<string, Pos>();
  const podNets = new Map<string, { net: Cidr; pos: Pos; ifname: string }[]>();
  for (const l of topo.links) {
    const a = checkLinkEnd(r, l.a, pods, ifnames, claims, podNets);
    const b = checkLinkEnd(r, l.b, pods, ifnames, claims, podNets);
    if (l.a.pod === l.b.pod) r.error(l.b.pos, "self-link", `link from pod "${l.a.pod}" to itself`);
    if (a && b) {
      if (a.family !== b.family) {
        r.error(l.b.ipPos!, "subnet-mismatch", `the ends mix IPv${a.family} and IPv${b.family}`);
      } else if (a.prefix !== b.prefix || networkOf(a).addr !== networkOf(b).addr) {
        r.error(
          l.b.ipPos!,
          "subnet-mismatch",
          `${l.b.ip} is not in the same subnet as ${l.a.ip} (${formatCidr(networkOf(a))})`,
        );
      }
    }
    if (l.mtu !== undefined) {
      const v6 = a?.family === 6 || b?.family === 6;
      if (l.mtu < 68 || l.mtu > 65535) r.error(l.mtuPos!, "mtu-range", `mtu ${l.mtu} is outside 68..65535`);
      else if (v6 && l.mtu < 1280) {
        r.error(l.mtuPos!, "mtu-range", `mtu ${l.mtu} is below 1280, the IPv6 minimum`);
      }
    }
    const nsA = pods.get(l.a.pod)?.namespace ?? "default", nsB = pods.get(l.b.pod)?.namespace ?? "default";
    l.id = `${nsA}.${l.a.pod}.${l.a.ifname}--${nsB}.${l.b.pod}.${l.b.ifname}`;
  }
  // One pod with two interfaces in overlapping subnets has two routes for the same addresses.
  for (const [pod, nets] of podNets) {
    if (nets.length < 2) continue;
    nets.sort((x, y) =>
      x.net.family - y.net.family || (x.net.addr < y.net.addr ? -1 : x.net.addr > y.net.addr ? 1 : 0)
    );
    let reach = nets[0];
    for (let i = 1; i < nets.length; i++) {
      const n = nets[i];
      if (reach.net.family === n.net.family && broadcastOf(reach.net).value >= n.net.addr) {
        const [first, second] = later(reach.pos, n.pos) === n.pos ? [reach, n] : [n, reach];
        r.warn(
          second.pos,
          "pod-subnet-overlap",
          `${pod}:${second.ifname} is in ${formatCidr(second.net)}, which overlaps ${pod}:${first.ifname} (${
            where(first.pos)
          })`,
        );
      }
      if (reach.net.family !== n.net.family || broadcastOf(n.net).value > broadcastOf(reach.net).value) {
        reach = n;
      }
    }
  }
}

function checkClaims(r: Reporter, claims: Claim[], subnets: Subnet[], pools: Map<string, IpRange[]>): void {
  claims.sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  const owners = new Map<string, Claim>();
  for (const c of claims) {
    const prev = owners.get(c.key);
    // A node's own address as one of its masters is normal: the master may be the parent interface.
    const sameHost = prev && prev.owner === c.owner && prev.kind !== c.kind && prev.kind !== "link" &&
      c.kind !== "link";
    if (prev && !sameHost) {
      r.error(
        c.pos,
        "duplicate-address",
        `${formatIp(c.ip)} is already used by ${prev.what} (${where(prev.pos)})`,
      );
    } else if (!prev) owners.set(c.key, c);
    for (const [ns, ranges] of pools) {
      if (rangesContain(ranges, c.ip)) {
        r.error(
          c.pos,
          "address-in-pool",
          `${formatIp(c.ip)} (${c.what}) is in the pool of namespace ${ns}, so anchor may hand it out`,
        );
      }
    }
  }
  for (const s of subnets) {
    if (s.gateway === undefined) continue;
    const host = owners.get(s.gateway);
    if (host) {
      r.error(
        later(host.pos, s.gatewayPos!),
        "duplicate-address",
        `${s.gateway} is the gateway of ${s.text} and also used by ${host.what}`,
      );
    }
  }
}

/** Runs every whole-file check on a parsed model and fills in link ids. */
export function checkTopology(topo: Topology, r: Reporter): void {
  const nodes = firstByName(topo.nodes, r, "node");
  const pods = firstByName(topo.pods, r, "pod");
  for (const p of topo.pods) {
    if (!nodes.has(p.node)) {
      r.error(p.nodePos, "unknown-node", `pod ${p.name} is on unknown node "${p.node}"`);
    }
  }
  const claims: Claim[] = [];
  for (const n of nodes.values()) {
    if (n.address === undefined) continue;
    const ip = parseIp(n.address);
    claims.push({
      key: n.address,
      ip,
      kind: "node",
      owner: n.name,
      what: `node ${n.name}`,
      pos: n.addressPos!,
    });
  }
  const subnets = checkSubnets(topo, r, nodes, claims);
  const pools = checkPools(topo, r, subnets);
  checkLinks(topo, r, pods, claims);
  checkClaims(r, claims, subnets, pools);
}
