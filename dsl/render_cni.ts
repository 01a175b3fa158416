/** `render --to cni-config`: the CNI config files each node needs, by node and file name. */
import type { RenderFilter } from "./render_store.ts";
import type { Topology } from "./types.ts";

/** The CNI version the rendered files declare. */
export const RENDER_CNI_VERSION = "1.0.0";

/**
 * For every node, `01-ratchet.conf` (ratchet with a bridge + host-local delegate placeholder and a
 * loopback boot network) and, when the node has masters, `10-anchor.conf` (octopus: subnet →
 * master, IPAM anchor), named as the originals named them.
 */
export function renderCniConfig(
  topo: Topology,
  filter: RenderFilter = {},
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const name = topo.cluster?.name ?? "ratchet";
  topo.nodes.forEach((n, index) => {
    if (filter.node !== undefined && n.name !== filter.node) return;
    const ratchet: Record<string, unknown> = {
      cniVersion: RENDER_CNI_VERSION,
      name: `${name}-ratchet`,
      type: "ratchet",
      parent_interface: n.parent,
    };
    // Without an address the plugin reads the parent interface's at run time.
    if (n.address !== undefined) ratchet.parent_address = n.address;
    ratchet.delegate = {
      // A placeholder for pods without links; replace it with the cluster's real network.
      name: `${name}-pods`,
      type: "bridge",
      bridge: "cni0",
      isGateway: true,
      ipMasq: true,
      ipam: { type: "host-local", ranges: [[{ subnet: `10.244.${index % 256}.0/24` }]] },
    };
    ratchet.boot_network = { type: "loopback" };
    const files: Record<string, unknown> = { "01-ratchet.conf": ratchet };
    const masters = topo.masters.filter((m) => m.node === n.name);
    if (masters.length) {
      files["10-anchor.conf"] = {
        cniVersion: RENDER_CNI_VERSION,
        name: "anchor",
        type: "octopus",
        octopus: Object.fromEntries(masters.map((m) => [m.subnet, m.iface])),
        ipam: { type: "anchor" },
      };
    }
    out[n.name] = files;
  });
  return out;
}
