/** The model's links seen from each pod, in the links codec's shape. */
import type { LinkEnd } from "../mod/links/types.ts";
import type { LinkEndDecl, Topology } from "./types.ts";

/** Each pod's link ends in file order; the left end of a `link` statement is the primary. */
export function podLinkEnds(topo: Topology): Map<string, LinkEnd[]> {
  const ns = new Map(topo.pods.map((p) => [p.name, p.namespace]));
  const out = new Map<string, LinkEnd[]>();
  const add = (self: LinkEndDecl, other: LinkEndDecl, mtu: number | undefined, primary: boolean) => {
    const end: LinkEnd = { ifname: self.ifname } as LinkEnd;
    if (self.ip !== undefined) end.ip = self.ip;
    end.peer = { pod: other.pod, namespace: ns.get(other.pod) ?? "default", ifname: other.ifname };
    if (other.ip !== undefined) end.peer.ip = other.ip;
    if (mtu !== undefined) end.mtu = mtu;
    end.primary = primary;
    let list = out.get(self.pod);
    if (!list) out.set(self.pod, list = []);
    list.push(end);
  };
  for (const l of topo.links) {
    add(l.a, l.b, l.mtu, true);
    add(l.b, l.a, l.mtu, false);
  }
  return out;
}

/** The nodes' parent addresses by name, for the `ratchet.public_ip` label. */
export function nodeAddresses(topo: Topology): Map<string, string | undefined> {
  return new Map(topo.nodes.map((n) => [n.name, n.address]));
}
