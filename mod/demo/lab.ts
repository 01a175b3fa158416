/**
 * The demo's lab: two simulated nodes and their LANs, all in network namespaces, wired with our
 * own netlink library. Nothing is made in the host's namespace: the "switch" namespace holds the
 * bridges that stand for the underlay and the two VLANs, and the gateways live there too.
 *
 *   demo-lan:  br1 (underlay 192.168.1.0/24)   br2 (10.0.2.0/24, gw .1)   br3 (10.0.3.0/24, gw .1)
 *                |            |                   |          |              |          |
 *   demo-node01: eth0 .224    demo-node02: eth0 .225   eth0.2 (both nodes)     eth0.3 (both nodes)
 */
import { Handle } from "../netlink/mod.ts";

/** Everything `demo down` needs to find what a kept lab left behind. */
export interface LabState {
  prefix: string;
  namespaces: string[];
  dir: string;
  pods: {
    name: string;
    node: string;
    plugin: "ratchet" | "octopus";
    containerId: string;
    conf: unknown;
    cniArgs: string;
  }[];
}

export const STATE_DIR = "/run/ratchet-demo";
export const STATE_FILE = `${STATE_DIR}/state.json`;

/** The lab's nodes as the embedded topology names them, with the underlay addresses it gives. */
export const NODES = [
  { name: "node01", address: "192.168.1.224", masters: { "eth0.2": "10.0.2.8/24", "eth0.3": "10.0.3.8/24" } },
  { name: "node02", address: "192.168.1.225", masters: { "eth0.2": "10.0.2.9/24", "eth0.3": "10.0.3.9/24" } },
];

/** The LAN each bridge stands for, and the gateway address the switch namespace answers on. */
const LANS = [
  { bridge: "br1", nodeIf: "eth0", gateway: "192.168.1.1/24" },
  { bridge: "br2", nodeIf: "eth0.2", gateway: "10.0.2.1/24" },
  { bridge: "br3", nodeIf: "eth0.3", gateway: "10.0.3.1/24" },
];

/** Runs a command, throwing its stderr when it fails. */
export async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

export function nsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Makes a namespace with its loopback up and records it, so teardown finds it even after a failure. */
export async function addNamespace(state: LabState, name: string): Promise<Handle> {
  await run("ip", "netns", "add", name);
  state.namespaces.push(name);
  const h = Handle.open(nsPath(name));
  h.linkSetUp("lo");
  return h;
}

/** Builds the switch and the two nodes; returns the namespace name of each node. */
export async function buildNodes(state: LabState): Promise<Record<string, string>> {
  const lan = await addNamespace(state, `${state.prefix}lan`);
  const handles: Handle[] = [lan];
  try {
    for (const l of LANS) {
      lan.linkAdd({ kind: "bridge", name: l.bridge, up: true });
      lan.addrAdd(l.bridge, l.gateway);
    }
    const nodes: Record<string, string> = {};
    for (const [i, node] of NODES.entries()) {
      const ns = `${state.prefix}${node.name}`;
      const h = await addNamespace(state, ns);
      handles.push(h);
      nodes[node.name] = ns;
      for (const l of LANS) {
        // The node end is made straight in the node's namespace; the switch end joins the bridge.
        const port = `n${i + 1}-${l.bridge}`;
        lan.linkAdd({ kind: "veth", name: port, peer: { name: l.nodeIf, nsFd: h.nsFd } });
        lan.linkSetMaster(port, l.bridge);
        lan.linkSetUp(port);
        h.linkSetUp(l.nodeIf);
      }
      h.addrAdd("eth0", `${node.address}/24`);
      for (const [master, cidr] of Object.entries(node.masters)) h.addrAdd(master, cidr);
    }
    return nodes;
  } finally {
    for (const h of handles) h.close();
  }
}

/** Deletes every namespace the lab made (which deletes their links), then its files. */
export async function destroyLab(state: LabState): Promise<void> {
  for (const ns of [...state.namespaces].reverse()) {
    await run("ip", "netns", "del", ns).catch(() => {});
  }
  await Deno.remove(state.dir, { recursive: true }).catch(() => {});
  await Deno.remove(STATE_FILE).catch(() => {});
}

function openPod(ns: string): Handle | undefined {
  try {
    return Handle.open(nsPath(ns));
  } catch {
    return undefined; // the pod's namespace is gone: nothing to show
  }
}

/** The first IPv4 address of `ifname` in namespace `ns`, or "" when there is none. */
export function firstAddress(ns: string, ifname: string): string {
  const h = openPod(ns);
  try {
    return h?.linkByName(ifname) ? h.addrList(ifname, 4)[0]?.address ?? "" : "";
  } finally {
    h?.close();
  }
}

/** The namespace's interfaces with their kind and IPv4 addresses, for the demo's table. */
export function interfacesOf(ns: string): string {
  const h = openPod(ns);
  if (!h) return "";
  try {
    return h.linkList().filter((l) => l.name !== "lo").map((l) => {
      const addrs = h.addrList(l.index, 4).map((a) => a.cidr);
      return `${l.name}${l.kind ? `(${l.kind})` : ""} ${addrs.join(",") || "-"}`;
    }).join("; ");
  } finally {
    h.close();
  }
}
