/** The shapes the links codec reads and writes. */

/** The far end of a link as one pod sees it. */
export interface PeerEnd {
  pod: string;
  namespace: string;
  ifname: string;
  /** `addr/prefix`, canonical; absent when the peer's interface gets no address. */
  ip?: string;
}

/** One link end of a pod: its interface, its address, and who is on the other side. */
export interface LinkEnd {
  ifname: string;
  /** `addr/prefix`, canonical (RFC 5952 for IPv6); absent when the interface gets no address. */
  ip?: string;
  peer: PeerEnd;
  /** Link MTU; absent means the kernel's default for the link kind. */
  mtu?: number;
  /** The end that creates the link record, like the original's `ratchet.primary`. */
  primary: boolean;
}

/** The pod fields the codec needs: identity, and metadata as the Kubernetes API returns it. */
export interface PodMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** What a pod's metadata says about its links. */
export interface PodLinks {
  /** True when ratchet handles the pod; false means the delegate plugin does. */
  eligible: boolean;
  /** The well-formed link ends; a malformed one is left out and explained in `errors`. */
  links: LinkEnd[];
  /** One message per problem, naming the label or the annotation entry and field. */
  errors: string[];
}

/** The annotation holding a JSON array of LinkEnd; it wins over the labels. */
export const LINKS_ANNOTATION = "ratchet.cni/links";

/** The original ratchet-cni labels, plus ours for what the original could not say (prefixes, MTU). */
export const LABELS = {
  enabled: "ratchet",
  podName: "ratchet.pod_name",
  targetPod: "ratchet.target_pod",
  targetContainer: "ratchet.target_container",
  publicIp: "ratchet.public_ip",
  localIp: "ratchet.local_ip",
  localPrefix: "ratchet.local_prefix",
  localIfname: "ratchet.local_ifname",
  pairName: "ratchet.pair_name",
  pairIp: "ratchet.pair_ip",
  pairPrefix: "ratchet.pair_prefix",
  pairIfname: "ratchet.pair_ifname",
  primary: "ratchet.primary",
  mtu: "ratchet.mtu",
} as const;

/** The prefix length the original hard-coded, still the default when the prefix labels are absent. */
export const DEFAULT_LABEL_PREFIX = 24;
