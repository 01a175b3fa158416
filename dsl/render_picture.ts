/** A topology as a picture's model (mod/picture): what `render --to dot|svg` draws. */
import { kindByPlacement, type Picture, type PictureEnd } from "../mod/picture/model.ts";
import type { LinkEndDecl, Topology } from "./types.ts";

/** Nodes, pods and links in file order; a link's kind follows where its pods are, as the plugin decides. */
export function topologyPicture(topo: Topology): Picture {
  const pods = new Map(topo.pods.map((p) => [p.name, p]));
  const end = (e: LinkEndDecl): PictureEnd => ({
    pod: `${pods.get(e.pod)?.namespace ?? "default"}/${e.pod}`,
    ifname: e.ifname,
    ...(e.ip !== undefined && { ip: e.ip }),
  });
  return {
    ...(topo.cluster && { title: topo.cluster.name }),
    nodes: topo.nodes.map((n) => ({
      name: n.name,
      parent: n.parent,
      ...(n.address !== undefined && { address: n.address }),
    })),
    pods: topo.pods.map((p) => ({
      id: `${p.namespace}/${p.name}`,
      name: p.name,
      namespace: p.namespace,
      node: p.node,
    })),
    links: topo.links.map((l) => ({
      id: l.id,
      a: end(l.a),
      b: end(l.b),
      kind: kindByPlacement(pods.get(l.a.pod)?.node, pods.get(l.b.pod)?.node),
      ...(l.mtu !== undefined && { mtu: l.mtu }),
    })),
  };
}
