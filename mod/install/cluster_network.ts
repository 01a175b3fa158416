/**
 * The original installer's CLUSTER_NETWORK string: `node,master,ip,gateway,masklen;...`, one item
 * per LAN a node sits on, several per node allowed.
 */
import { type Cidr, contains, formatCidr, networkOf, parseCidrOrReason, parseIpOrReason } from "../ip/mod.ts";

/** One item: on `node`, `master` carries `ip/prefix` and the LAN's `gateway`. */
export interface ClusterNetworkItem {
  node: string;
  master: string;
  ip: string;
  /** Always set from CLUSTER_NETWORK; a topology's master may leave it out. */
  gateway?: string;
  prefix: number;
  /** The LAN's network, canonical, e.g. "10.0.2.0/24": the key of the octopus map. */
  subnet: string;
}

/** A malformed CLUSTER_NETWORK; every problem is listed, each with its item number (1-based). */
export class ClusterNetworkError extends Error {
  constructor(readonly problems: { item: number; text: string; problem: string }[]) {
    super(
      "invalid cluster network: " +
        problems.map((p) => `item ${p.item} ${JSON.stringify(p.text)}: ${p.problem}`).join("; "),
    );
    this.name = "ClusterNetworkError";
  }
}

/** The most shims one node may have: acr00 to acr99, as the original allowed. */
export const MAX_SHIMS = 100;

/**
 * Parses a CLUSTER_NETWORK string. Blanks are ignored anywhere, as the original stripped them;
 * empty items (a trailing `;`) are skipped.
 *
 * @throws ClusterNetworkError listing every bad item at once
 * @example
 * parseClusterNetwork("node01,eth0.2,10.0.2.8,10.0.2.1,24")
 * // [{node: "node01", master: "eth0.2", ip: "10.0.2.8", gateway: "10.0.2.1", prefix: 24, subnet: "10.0.2.0/24"}]
 */
export function parseClusterNetwork(text: string): ClusterNetworkItem[] {
  const items: ClusterNetworkItem[] = [];
  const problems: ClusterNetworkError["problems"] = [];
  const raw = text.replace(/\s+/g, "").split(";").filter(Boolean);
  raw.forEach((t, i) => {
    const r = parseItem(t);
    if (typeof r === "string") problems.push({ item: i + 1, text: t, problem: r });
    else items.push(r);
  });
  if (problems.length) throw new ClusterNetworkError(problems);
  return items;
}

function parseItem(t: string): ClusterNetworkItem | string {
  const f = t.split(",");
  if (f.length !== 5) return `expected 5 fields node,master,ip,gateway,masklen, got ${f.length}`;
  const [node, master, ip, gateway, mask] = f;
  if (!node) return "the node name is empty";
  if (!master || master.length > 15 || /[/:]/.test(master)) {
    return `bad master interface name ${JSON.stringify(master)}`;
  }
  if (!/^\d{1,3}$/.test(mask)) return `bad mask length ${JSON.stringify(mask)}`;
  const cidr = parseCidrOrReason(`${ip}/${mask}`);
  if (typeof cidr === "string") return `bad address ${ip}/${mask}: ${cidr}`;
  const gw = parseIpOrReason(gateway);
  if (typeof gw === "string") return `bad gateway ${JSON.stringify(gateway)}: ${gw}`;
  const net: Cidr = networkOf(cidr);
  if (!contains(net, gw)) return `gateway ${gateway} is outside ${formatCidr(net)}`;
  return { node, master, ip, gateway, prefix: cidr.prefix, subnet: formatCidr(net) };
}

/** The items of one node, in the string's order, which gives each its shim number. */
export function itemsForNode(items: ClusterNetworkItem[], node: string): ClusterNetworkItem[] {
  return items.filter((i) => i.node === node);
}

/** The shim name of the n-th item of a node: acr00, acr01, ... acr99. */
export function shimName(n: number): string {
  if (n < 0 || n >= MAX_SHIMS) {
    throw new RangeError(`at most ${MAX_SHIMS} shim interfaces per node (acr00-acr99)`);
  }
  return `acr${String(n).padStart(2, "0")}`;
}

/** The octopus map these items give a node: subnet -> master, first item of a subnet wins. */
export function octopusMap(items: ClusterNetworkItem[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const i of items) map[i.subnet] ??= i.master;
  return map;
}
