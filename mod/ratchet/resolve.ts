/**
 * Which links a pod has, from every declaration that mentions it: the topology's link records,
 * its own metadata, and its peers' metadata (the original's non-primary pod declared nothing and
 * learned its link from the primary). Pure, so both sides of a link compute the same answer.
 */
import type { LinkEnd } from "../links/types.ts";

/** One end of a link, fully named. */
export interface EndRef {
  namespace: string;
  pod: string;
  ifname: string;
  /** `addr/prefix`; absent for an interface without an address. */
  ip?: string;
}

/** A link as one pod sees it. */
export interface PodLink {
  /** Both ends' `<ns>/<pod>/<ifname>` in sorted order, joined by '/': six slash-free segments. */
  id: string;
  local: EndRef;
  remote: EndRef;
  mtu?: number;
}

/** How much a declaration counts when two disagree about one interface. */
export const RANK = { peer: 1, primary: 2, topology: 3 } as const;

/** A link end as some pod (or the topology, on behalf of end `by`) declared it. */
export interface Declaration {
  by: { namespace: string; pod: string };
  end: LinkEnd;
  rank: number;
}

/** A pod by namespace and name. */
export interface PodRef {
  namespace: string;
  pod: string;
}

/** `<ns>/<pod>/<ifname>`: the key of an end in link state records and the ends index. */
export function endKey(e: { namespace: string; pod: string; ifname: string }): string {
  return `${e.namespace}/${e.pod}/${e.ifname}`;
}

/** The canonical id of the link between two ends, the same whichever end computes it. */
export function linkId(a: EndRef, b: EndRef): string {
  const [x, y] = [endKey(a), endKey(b)].sort();
  return `${x}/${y}`;
}

/** The declarations a pod's own link ends make, ranked by their primary flag. */
export function declarationsOf(by: PodRef, ends: LinkEnd[]): Declaration[] {
  return ends.map((end) => ({ by, end, rank: end.primary ? RANK.primary : RANK.peer }));
}

/** A `ratchet apply` link record `{id, a, b, mtu}` as the declaration of its primary end `a`. */
export function topologyDeclaration(record: unknown): Declaration | undefined {
  const r = record as { a?: Partial<EndRef>; b?: Partial<EndRef>; mtu?: unknown };
  const ok = (e?: Partial<EndRef>): e is EndRef =>
    !!e && typeof e.namespace === "string" && typeof e.pod === "string" && typeof e.ifname === "string";
  if (!r || !ok(r.a) || !ok(r.b)) return undefined;
  const end: LinkEnd = {
    ifname: r.a.ifname,
    peer: { pod: r.b.pod, namespace: r.b.namespace, ifname: r.b.ifname },
    primary: true,
  };
  if (r.a.ip) end.ip = r.a.ip;
  if (r.b.ip) end.peer.ip = r.b.ip;
  if (typeof r.mtu === "number") end.mtu = r.mtu;
  return { by: { namespace: r.a.namespace, pod: r.a.pod }, end, rank: RANK.topology };
}

function ends(d: Declaration): [EndRef, EndRef] {
  const mine: EndRef = { namespace: d.by.namespace, pod: d.by.pod, ifname: d.end.ifname };
  if (d.end.ip) mine.ip = d.end.ip;
  const theirs: EndRef = { namespace: d.end.peer.namespace, pod: d.end.peer.pod, ifname: d.end.peer.ifname };
  if (d.end.peer.ip) theirs.ip = d.end.peer.ip;
  return [mine, theirs];
}

const same = (e: EndRef, p: PodRef) => e.namespace === p.namespace && e.pod === p.pod;

/**
 * The links of pod `self`: each interface of the pod in at most one link, the best-ranked
 * declaration winning (ties go to the smaller id, so every caller picks the same one).
 * A declaration that loses an interface to a better one is reported in `conflicts`.
 */
export function resolveLinks(self: PodRef, decls: Declaration[]): { links: PodLink[]; conflicts: string[] } {
  const candidates = decls.flatMap((d) => {
    const [a, b] = ends(d);
    if (!same(a, self) && !same(b, self)) return [];
    const [local, remote] = same(a, self) ? [a, b] : [b, a];
    return [{ id: linkId(a, b), local, remote, mtu: d.end.mtu, rank: d.rank }];
  }).sort((x, y) => y.rank - x.rank || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const links: PodLink[] = [];
  const conflicts: string[] = [];
  const ids = new Set<string>();
  const ifnames = new Map<string, string>();
  const remotes = new Set<string>();
  for (const c of candidates) {
    if (ids.has(c.id)) continue;
    if (same(c.remote, self)) {
      conflicts.push(`link ${c.id} joins pod ${self.namespace}/${self.pod} to itself`);
      continue;
    }
    const taken = ifnames.get(c.local.ifname) ?? (remotes.has(endKey(c.remote)) ? "another link" : undefined);
    if (taken) {
      conflicts.push(`link ${c.id} is ignored: its interface is already used by ${taken}`);
      continue;
    }
    ids.add(c.id);
    ifnames.set(c.local.ifname, c.id);
    remotes.add(endKey(c.remote));
    const link: PodLink = { id: c.id, local: c.local, remote: c.remote };
    if (c.mtu !== undefined) link.mtu = c.mtu;
    links.push(link);
  }
  return { links, conflicts };
}
