/**
 * ratchet's key schema, defined once: the keys `ratchet apply` owns (/ratchet/topology, /ratchet/nodes,
 * /ratchet/pods, /ratchet/links; the DSL's renderer imports them from here) and the keys the plugin
 * and its waiter write at run time, with the JSON records under them.
 */
import type { LinkEnd } from "../links/types.ts";

/** Key builders; every segment is a Kubernetes name or an interface name, neither of which holds '/'. */
export const KEY = {
  /** Everything ratchet keeps; one `list` of it is a consistent snapshot. */
  all: "/ratchet/",
  /** `ratchet apply`'s topology name. */
  cluster: "/ratchet/topology/cluster",
  /** `ratchet apply`'s per-node defaults. */
  nodes: "/ratchet/nodes/",
  node: (node: string) => `/ratchet/nodes/${node}`,
  /** `ratchet apply`'s pod metadata, for runtimes without Kubernetes. */
  pods: "/ratchet/pods/",
  pod: (ns: string, pod: string) => `/ratchet/pods/${ns}/${pod}`,
  /** `ratchet apply`'s link records. */
  links: "/ratchet/links/",
  /** An eligible pod's registration: where it is and which links it declares. */
  attaches: "/ratchet/attach/",
  attach: (ns: string, pod: string) => `/ratchet/attach/${ns}/${pod}`,
  /** What DEL needs to know about a container, whatever the API says by then. */
  container: (id: string) => `/ratchet/containers/${id}`,
  /** "pod <from> declares a link to <ns>/<pod>": lets a pod find links only its peer declared. */
  allPeers: "/ratchet/peers/",
  peers: (ns: string, pod: string) => `/ratchet/peers/${ns}/${pod}/`,
  peer: (ns: string, pod: string, fromNs: string, fromPod: string) =>
    `/ratchet/peers/${ns}/${pod}/${fromNs}/${fromPod}`,
  /** One link's plumbing state and its claim. */
  states: "/ratchet/state/",
  state: (linkId: string) => `/ratchet/state/${linkId}`,
  /**
   * The link ends made for one container, so its DEL finds exactly its own, even after a newer
   * container of the same pod has made its ends under the same names.
   */
  ends: (containerId: string) => `/ratchet/ends/${containerId}/`,
  end: (containerId: string, ifname: string) => `/ratchet/ends/${containerId}/${ifname}`,
  /** A VNI's owner: claimed in a transaction, so no two links ever share one. */
  vnis: "/ratchet/vni/",
  vni: (vni: number) => `/ratchet/vni/${vni}`,
  /** A node's waiting work, one record per container with links not up yet. */
  waits: (node: string) => `/ratchet/wait/${node}/`,
  wait: (node: string, containerId: string) => `/ratchet/wait/${node}/${containerId}`,
  /** Every node's waiting work, for `ratchet status` and monkey. */
  allWaits: "/ratchet/wait/",
  /** The node's waiter process: a lease its starter takes in a transaction, so only one ever runs. */
  waiter: (node: string) => `/ratchet/waiter/${node}`,
} as const;

/** /ratchet/attach/<ns>/<pod>: written in one transaction with the container record. */
export interface AttachRecord {
  container_id: string;
  netns: string;
  node: string;
  parent_interface: string;
  /** What remote nodes point their vxlan at; empty when this node has none. */
  parent_address: string;
  /** The link ends this pod's own metadata declares. */
  links: LinkEnd[];
  /** The original's informational labels, kept for people reading the store. */
  public_ip?: string;
  target_pod?: string;
  target_container?: string;
  /** The container this registration replaced (a re-created pod), whose stale ends ADD sweeps away. */
  replaces?: { container_id: string; netns: string };
}

/** /ratchet/containers/<id> */
export interface ContainerRecord {
  namespace: string;
  /** The pod's name as links name it (ratchet.pod_name when set), or "" when unknown. */
  pod: string;
  ifname: string;
  /** DEL may come without CNI_NETNS; the ends are removed from this one then. */
  netns: string;
  eligible: boolean;
  node: string;
  /** The CNI network (config `name`), so GC of one network leaves another's containers alone. */
  network: string;
  /** When ADD wrote it (ISO 8601): GC never collects a record younger than `gc_grace_seconds`. */
  created?: string;
}

/** One end in a link's state. */
export interface EndState {
  container_id: string;
  /** vxlan: the remote this end was made with, to notice a peer that moved. */
  remote?: string;
  /** vxlan: this end is made. */
  up?: boolean;
}

/**
 * /ratchet/state/<linkId>. A veth is claimed by one side (`status: "claimed"`, `by`) which makes
 * both ends and marks it "up"; a vxlan carries its VNI and each side marks its own end.
 */
export interface LinkState {
  kind: "veth" | "vxlan";
  vni?: number;
  status?: "claimed" | "up";
  /** The container that claimed the veth, and when (ms since the epoch), to take over a dead claim. */
  by?: string;
  at?: number;
  /** By end key `<ns>/<pod>/<ifname>`. */
  ends: Record<string, EndState>;
  /** vxlan: VNIs a node's kernel refused (EEXIST) for this link; it moved off them and never returns. */
  refused?: number[];
}

/** /ratchet/ends/<containerId>/<ifname> */
export interface EndRecord {
  link: string;
  /** This end's key in the link state, `<ns>/<pod>/<ifname>`. */
  end: string;
  kind: "veth" | "vxlan";
  /** The address this end was given, for CHECK. */
  ip?: string;
}

/** Why a link of a waiting container is not up: the kernel refused it, or its deadline passed. */
export interface LinkTrouble {
  status: "failed" | "timed out";
  /** What happened, for people: the kernel's message, or what was still missing at the deadline. */
  reason: string;
  /** The errno name of a kernel refusal, e.g. "EEXIST". */
  errno?: string;
  /** When it was recorded, ms since the epoch. */
  at: number;
}

/** /ratchet/wait/<node>/<containerId>: the container's links are not all up yet; the node's waiter finishes them. */
export interface WaitRecord {
  namespace: string;
  pod: string;
  container_id: string;
  /** The config's `vni_start`, for the links the waiter makes. */
  vni_start: number;
  /** `child_timeout_s` after ADD, ms since the epoch: a link not up by then is `timed out`. */
  deadline: number;
  /** Links that failed or timed out, by link id; absent while everything is simply pending. */
  links?: Record<string, LinkTrouble>;
}

/** /ratchet/waiter/<node>: the node's waiter; `pid` 0 while its starter is starting it. */
export interface WaiterRecord {
  pid: number;
  /** When the lease was taken, ms since the epoch: a start that never finished is taken over. */
  at: number;
}

/** Parses a JSON record, or undefined when the key is absent or holds something else. */
export function parseRecord<T>(kv: { value: string } | undefined): T | undefined {
  if (!kv) return undefined;
  try {
    const v = JSON.parse(kv.value);
    return v && typeof v === "object" && !Array.isArray(v) ? v as T : undefined;
  } catch {
    return undefined;
  }
}
