/** Writing a pod's link ends as labels and annotations that parsePodLinks reads back. */
import { parseCidr } from "../ip/cidr.ts";
import { formatIp } from "../ip/addr.ts";
import { labelValueProblem } from "./names.ts";
import { normalizeLinkEnd } from "./parse.ts";
import { DEFAULT_LABEL_PREFIX, LABELS, type LinkEnd, LINKS_ANNOTATION } from "./types.ts";

/** The pod being described; `publicIp` fills the original's `ratchet.public_ip` label when known. */
export interface PodIdentity {
  name: string;
  namespace: string;
  publicIp?: string;
}

/** Splits `addr/prefix` into the bare address and prefix labels, or undefined for IPv6 (':' is not allowed). */
function v4Labels(cidr: string | undefined): { ip: string; prefix: number } | null | undefined {
  if (cidr === undefined) return undefined;
  const c = parseCidr(cidr);
  if (c.family !== 4) return null;
  return { ip: formatIp({ family: 4, value: c.addr }), prefix: c.prefix };
}

/** The original label set for one link, or undefined when labels cannot express it. */
function originalLabels(pod: PodIdentity, l: LinkEnd): Record<string, string> | undefined {
  // Labels have no namespace field: the original assumed the peer lives beside the pod.
  if (l.peer.namespace !== pod.namespace) return undefined;
  const local = v4Labels(l.ip), pair = v4Labels(l.peer.ip);
  if (local === null || pair === null) return undefined;
  const out: Record<string, string> = {
    [LABELS.targetPod]: pod.name,
    [LABELS.targetContainer]: pod.name,
  };
  if (pod.publicIp) out[LABELS.publicIp] = pod.publicIp;
  if (local) out[LABELS.localIp] = local.ip;
  if (local && local.prefix !== DEFAULT_LABEL_PREFIX) out[LABELS.localPrefix] = String(local.prefix);
  out[LABELS.localIfname] = l.ifname;
  out[LABELS.pairName] = l.peer.pod;
  if (pair) out[LABELS.pairIp] = pair.ip;
  if (pair && pair.prefix !== DEFAULT_LABEL_PREFIX) out[LABELS.pairPrefix] = String(pair.prefix);
  out[LABELS.pairIfname] = l.peer.ifname;
  if (l.mtu !== undefined) out[LABELS.mtu] = String(l.mtu);
  return Object.values(out).every((v) => !labelValueProblem(v)) ? out : undefined;
}

/**
 * The labels and annotations that describe a pod's link ends.
 *
 * The annotation carries every link. The labels carry the original set for the first link when
 * labels can express it (IPv4 or no address, peer in the same namespace), so tooling written for
 * ratchet-cni still reads them. A pod without links gets neither, and so stays with the delegate.
 */
export function podLinksToMetadata(
  pod: PodIdentity,
  links: LinkEnd[],
): { labels: Record<string, string>; annotations: Record<string, string> } {
  if (links.length === 0) return { labels: {}, annotations: {} };
  const first = links[0];
  const labels: Record<string, string> = {
    [LABELS.enabled]: "true",
    [LABELS.podName]: pod.name,
  };
  const extra = originalLabels(pod, first);
  if (extra) Object.assign(labels, extra);
  labels[LABELS.primary] = String(first.primary);
  return {
    labels,
    annotations: { [LINKS_ANNOTATION]: JSON.stringify(links.map(normalizeLinkEnd)) },
  };
}
