/** The store keys and values a topology stands for: what `apply` writes and `render --to store` shows. */
import { podLinksToMetadata } from "../mod/links/render.ts";
import { GATEWAY_PREFIX, POOL_PREFIX } from "../mod/ipam/keys.ts";
import { KEY } from "../mod/ratchet/keys.ts";
import { nodeAddresses, podLinkEnds } from "./pod_links.ts";
import type { LinkEndDecl, Topology } from "./types.ts";

/**
 * Key prefixes apply owns; prune deletes only keys of exactly these shapes (see isManagedKey). Each is
 * defined once, by the role that reads it: ratchet's key schema and anchor's.
 */
export const KEYS = {
  cluster: KEY.cluster,
  nodes: KEY.nodes,
  pods: KEY.pods,
  links: KEY.links,
  pools: POOL_PREFIX,
  gateways: GATEWAY_PREFIX,
} as const;

/** Limits rendering to what one node needs; cluster-wide keys (pools, gateways, cluster) stay. */
export interface RenderFilter {
  node?: string;
}

/** Each subnet's gateway, from master and gateway statements, first one winning as lint requires. */
export function subnetGateways(topo: Topology): Map<string, string> {
  const out = new Map<string, string>();
  const items = [
    ...topo.masters.map((m) => ({ line: m.pos.line, subnet: m.subnet, gateway: m.gateway })),
    ...topo.gateways.map((g) => ({
      line: g.pos.line,
      subnet: g.subnet,
      gateway: g.gateway as string | undefined,
    })),
  ].sort((a, b) => a.line - b.line);
  for (const i of items) if (i.gateway !== undefined && !out.has(i.subnet)) out.set(i.subnet, i.gateway);
  return out;
}

/**
 * Every key apply would write, in a stable order, values as stored (JSON text for records).
 *
 * @example `/ratchet/links/default.a.in1--default.b.in1` → `{"id":"…","a":{…},"b":{…},"mtu":1450}`
 */
export function topologyToStore(topo: Topology, filter: RenderFilter = {}): Map<string, string> {
  const out = new Map<string, string>();
  const podNode = new Map(topo.pods.map((p) => [p.name, p.node]));
  const podNs = new Map(topo.pods.map((p) => [p.name, p.namespace]));
  const onNode = (node: string | undefined) => filter.node === undefined || node === filter.node;
  if (topo.cluster) out.set(KEYS.cluster, topo.cluster.name);
  for (const n of topo.nodes) {
    if (!onNode(n.name)) continue;
    const rec: Record<string, string> = { parent_interface: n.parent };
    if (n.address !== undefined) rec.parent_address = n.address;
    out.set(KEYS.nodes + n.name, JSON.stringify(rec));
  }
  for (const p of topo.pools) out.set(KEYS.pools + p.namespace, p.ranges);
  for (const [subnet, gw] of subnetGateways(topo)) out.set(KEYS.gateways + subnet, gw);
  const ends = podLinkEnds(topo);
  const addrs = nodeAddresses(topo);
  for (const p of topo.pods) {
    if (!onNode(p.node)) continue;
    const meta = podLinksToMetadata(
      { name: p.name, namespace: p.namespace, publicIp: addrs.get(p.node) },
      ends.get(p.name) ?? [],
    );
    out.set(`${KEYS.pods}${p.namespace}/${p.name}`, JSON.stringify({ node: p.node, ...meta }));
  }
  const end = (e: LinkEndDecl) => {
    const rec: Record<string, string> = {
      namespace: podNs.get(e.pod) ?? "default",
      pod: e.pod,
      ifname: e.ifname,
    };
    if (e.ip !== undefined) rec.ip = e.ip;
    return rec;
  };
  for (const l of topo.links) {
    if (!onNode(podNode.get(l.a.pod)) && !onNode(podNode.get(l.b.pod))) continue;
    const rec: Record<string, unknown> = { id: l.id, a: end(l.a), b: end(l.b) };
    if (l.mtu !== undefined) rec.mtu = l.mtu;
    out.set(KEYS.links + l.id, JSON.stringify(rec));
  }
  return out;
}
