/** Reading a pod's link ends from its labels (the original's) or the `ratchet.cni/links` annotation. */
import { formatCidr, parseCidrOrReason } from "../ip/cidr.ts";
import { parseIpOrReason } from "../ip/addr.ts";
import { dnsLabelProblem, dnsSubdomainProblem, ifnameProblem } from "./names.ts";
import {
  DEFAULT_LABEL_PREFIX,
  LABELS,
  type LinkEnd,
  LINKS_ANNOTATION,
  type PodLinks,
  type PodMeta,
} from "./types.ts";

/** Canonical `addr/prefix`, or a reason; "" and undefined mean "no address". */
function readCidr(v: unknown): string | undefined | { problem: string } {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") return { problem: "must be a string like 192.168.2.100/24" };
  const c = parseCidrOrReason(v);
  if (typeof c === "string") return { problem: `${JSON.stringify(v)}: ${c}` };
  return formatCidr(c);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates one annotation entry; returns the link end or the problems, each naming its field. */
function readEntry(e: unknown, at: string, ownNamespace: string): LinkEnd | string[] {
  if (!isObject(e)) return [`${at}: must be an object`];
  const problems: string[] = [];
  const str = (v: unknown, field: string, check: (s: string) => string): string => {
    if (typeof v !== "string") {
      problems.push(`${at}.${field}: must be a string`);
      return "";
    }
    const p = check(v);
    if (p) problems.push(`${at}.${field}: invalid ${JSON.stringify(v)}: ${p}`);
    return v;
  };
  const ifname = str(e.ifname, "ifname", ifnameProblem);
  const ip = readCidr(e.ip);
  if (typeof ip === "object") problems.push(`${at}.ip: ${ip.problem}`);
  const peer = e.peer;
  let peerEnd: LinkEnd["peer"] | undefined;
  if (!isObject(peer)) problems.push(`${at}.peer: must be an object {pod, namespace, ifname, ip}`);
  else {
    const pod = str(peer.pod, "peer.pod", dnsSubdomainProblem);
    const namespace = peer.namespace === undefined
      ? ownNamespace
      : str(peer.namespace, "peer.namespace", dnsLabelProblem);
    const pifname = str(peer.ifname, "peer.ifname", ifnameProblem);
    const pip = readCidr(peer.ip);
    if (typeof pip === "object") problems.push(`${at}.peer.ip: ${pip.problem}`);
    peerEnd = { pod, namespace, ifname: pifname };
    if (typeof pip === "string") peerEnd.ip = pip;
  }
  let mtu: number | undefined;
  if (e.mtu !== undefined && e.mtu !== null) {
    if (typeof e.mtu !== "number" || !Number.isInteger(e.mtu) || e.mtu < 68 || e.mtu > 65535) {
      problems.push(`${at}.mtu: must be an integer from 68 to 65535`);
    } else mtu = e.mtu;
  }
  if (e.primary !== undefined && typeof e.primary !== "boolean") {
    problems.push(`${at}.primary: must be true or false`);
  }
  if (
    typeof ip === "string" && typeof peerEnd?.ip === "string" && ip.includes(":") !== peerEnd.ip.includes(":")
  ) {
    problems.push(`${at}: the two ends mix IPv4 and IPv6`);
  }
  if (problems.length || !peerEnd) return problems;
  const out: LinkEnd = { ifname, peer: peerEnd, primary: e.primary === true };
  if (typeof ip === "string") out.ip = ip;
  if (mtu !== undefined) out.mtu = mtu;
  return normalizeLinkEnd(out);
}

/** The same LinkEnd with keys in one order, so JSON of equal ends is equal text. */
export function normalizeLinkEnd(l: LinkEnd): LinkEnd {
  const out: LinkEnd = { ifname: l.ifname } as LinkEnd;
  if (l.ip !== undefined) out.ip = l.ip;
  out.peer = { pod: l.peer.pod, namespace: l.peer.namespace, ifname: l.peer.ifname };
  if (l.peer.ip !== undefined) out.peer.ip = l.peer.ip;
  if (l.mtu !== undefined) out.mtu = l.mtu;
  out.primary = l.primary;
  return out;
}

function fromAnnotation(text: string, namespace: string): { links: LinkEnd[]; errors: string[] } {
  const links: LinkEnd[] = [];
  const errors: string[] = [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { links, errors: [`annotation ${LINKS_ANNOTATION}: not JSON (${(e as Error).message})`] };
  }
  if (!Array.isArray(data)) {
    return { links, errors: [`annotation ${LINKS_ANNOTATION}: must be a JSON array`] };
  }
  const seen = new Set<string>();
  data.forEach((entry, i) => {
    const at = `annotation ${LINKS_ANNOTATION}[${i}]`;
    const r = readEntry(entry, at, namespace);
    if (Array.isArray(r)) errors.push(...r);
    else if (seen.has(r.ifname)) errors.push(`${at}.ifname: ${r.ifname} is already used by an earlier entry`);
    else {
      seen.add(r.ifname);
      links.push(r);
    }
  });
  return { links, errors };
}

/** A bare IPv4 label plus its prefix label (labels cannot hold '/' or ':'). */
function labelCidr(labels: Record<string, string>, ipKey: string, prefixKey: string, errors: string[]) {
  const ip = labels[ipKey];
  if (ip === undefined || ip === "") return undefined;
  const a = parseIpOrReason(ip);
  if (typeof a === "string") {
    errors.push(`label ${ipKey}: invalid address ${JSON.stringify(ip)}: ${a}`);
    return null;
  }
  const p = labels[prefixKey];
  const prefix = p === undefined ? DEFAULT_LABEL_PREFIX : /^[0-9]{1,3}$/.test(p) ? Number(p) : NaN;
  if (!(prefix <= (a.family === 4 ? 32 : 128))) {
    errors.push(`label ${prefixKey}: invalid prefix length ${JSON.stringify(p)}`);
    return null;
  }
  return formatCidr({ family: a.family, addr: a.value, prefix });
}

function fromLabels(pod: PodMeta, labels: Record<string, string>): { links: LinkEnd[]; errors: string[] } {
  const errors: string[] = [];
  const ifname = labels[LABELS.localIfname],
    pairName = labels[LABELS.pairName],
    pairIf = labels[LABELS.pairIfname];
  // The original's non-primary pod carries no link labels: it learns the link from the store.
  if (ifname === undefined && pairName === undefined && pairIf === undefined) return { links: [], errors };
  for (
    const [key, v] of [[LABELS.localIfname, ifname], [LABELS.pairName, pairName], [LABELS.pairIfname, pairIf]]
  ) {
    if (v === undefined) errors.push(`label ${key}: missing (the link labels go together)`);
  }
  if (ifname !== undefined && ifnameProblem(ifname)) {
    errors.push(`label ${LABELS.localIfname}: invalid ${JSON.stringify(ifname)}: ${ifnameProblem(ifname)}`);
  }
  if (pairIf !== undefined && ifnameProblem(pairIf)) {
    errors.push(`label ${LABELS.pairIfname}: invalid ${JSON.stringify(pairIf)}: ${ifnameProblem(pairIf)}`);
  }
  if (pairName !== undefined && dnsSubdomainProblem(pairName)) {
    errors.push(
      `label ${LABELS.pairName}: invalid ${JSON.stringify(pairName)}: ${dnsSubdomainProblem(pairName)}`,
    );
  }
  const ip = labelCidr(labels, LABELS.localIp, LABELS.localPrefix, errors);
  const pip = labelCidr(labels, LABELS.pairIp, LABELS.pairPrefix, errors);
  const mtuText = labels[LABELS.mtu];
  const mtu = mtuText === undefined ? undefined : /^[0-9]{2,5}$/.test(mtuText) ? Number(mtuText) : NaN;
  if (mtu !== undefined && !(mtu >= 68 && mtu <= 65535)) {
    errors.push(`label ${LABELS.mtu}: ${JSON.stringify(mtuText)} is not an MTU from 68 to 65535`);
  }
  if (errors.length) return { links: [], errors };
  const link: LinkEnd = {
    ifname: ifname!,
    peer: { pod: pairName!, namespace: pod.namespace, ifname: pairIf! },
    primary: labels[LABELS.primary] === "true",
  };
  if (ip) link.ip = ip;
  if (pip) link.peer.ip = pip;
  if (mtu !== undefined) link.mtu = mtu;
  return { links: [normalizeLinkEnd(link)], errors };
}

/**
 * Reads a pod's ratchet link ends.
 *
 * Eligible means label `ratchet: "true"`, or the links annotation with no `ratchet` label at all
 * (an explicit `ratchet: "false"` opts out). The annotation wins over the labels; labels give at
 * most one link, IPv4 only, with prefix labels defaulting to /24 as the original hard-coded.
 *
 * @example
 * ```ts
 * const { eligible, links, errors } = parsePodLinks({ name, namespace, labels, annotations });
 * ```
 */
export function parsePodLinks(pod: PodMeta): PodLinks {
  const labels = pod.labels ?? {};
  const annotation = pod.annotations?.[LINKS_ANNOTATION];
  const flag = labels[LABELS.enabled];
  const eligible = flag === "true" || (flag === undefined && annotation !== undefined);
  if (!eligible) return { eligible, links: [], errors: [] };
  const r = annotation !== undefined ? fromAnnotation(annotation, pod.namespace) : fromLabels(pod, labels);
  return { eligible, ...r };
}
