/**
 * IPv4 and IPv6 addresses on links: the typed object and its messages.
 */
import {
  afOf,
  dv,
  familyDumpMsg,
  familyOfAf,
  getStr,
  getU32,
  MessageBuilder,
  type NlMessage,
  parseAttrs,
} from "./nl/codec.ts";
import {
  IFA_ADDRESS,
  IFA_F_NODAD,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFADDRMSG_LEN,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from "./nl/consts.ts";
import { formatIp, parseCidr } from "./nl/inet.ts";
import { type Scope, scopeName, scopeNumber } from "./scope.ts";

/** An address on a link. */
export interface Addr {
  /** The link's ifindex. */
  index: number;
  /** IFA_LABEL: the link's name for IPv4 (or its alias label); absent for IPv6. */
  label?: string;
  family: 4 | 6;
  address: string;
  prefixLen: number;
  /** "address/prefixLen", the form addrAdd takes. */
  cidr: string;
  scope: Scope;
  /** IFA_F_* flags (permanent, tentative, nodad, ...). */
  flags: number;
}

/** Options for adding an address. */
export interface AddrOptions {
  /** IPv6: skip duplicate address detection so the address is usable at once (containers). */
  noDad?: boolean;
  scope?: Scope;
  /** Replace an existing identical address instead of failing with EEXIST. */
  replace?: boolean;
}

/** The RTM_NEWADDR/RTM_DELADDR message for `cidr` on ifindex `index`. */
export function addrMsg(add: boolean, index: number, cidr: string, opts: AddrOptions = {}): MessageBuilder {
  const c = parseCidr(cidr);
  const flags = add ? NLM_F_CREATE | (opts.replace ? NLM_F_REPLACE : NLM_F_EXCL) : 0;
  const b = new MessageBuilder(add ? RTM_NEWADDR : RTM_DELADDR, flags);
  const head = new Uint8Array(IFADDRMSG_LEN);
  const ifaFlags = opts.noDad ? IFA_F_NODAD : 0;
  head[0] = afOf(c.family);
  head[1] = c.prefixLen;
  head[2] = ifaFlags;
  head[3] = scopeNumber(opts.scope ?? "global");
  dv(head).setUint32(4, index, true);
  b.bytes(head);
  // IPv4 keys an address on IFA_LOCAL; IFA_ADDRESS is the peer on point-to-point links and
  // equals the local address otherwise, which is what iproute2 sends too.
  if (c.family === 4) b.attr(IFA_LOCAL, c.bytes);
  b.attr(IFA_ADDRESS, c.bytes);
  if (ifaFlags) b.u32(IFA_FLAGS, ifaFlags);
  return b;
}

/** The RTM_GETADDR dump for one family (4, 6) or both. */
export function addrDumpMsg(family?: 4 | 6): MessageBuilder {
  return familyDumpMsg(RTM_GETADDR, IFADDRMSG_LEN, family);
}

/** Decodes an RTM_NEWADDR message; undefined for families other than IPv4/IPv6. */
export function parseAddr(m: NlMessage): Addr | undefined {
  const family = familyOfAf(m.data[0]);
  if (!family) return undefined;
  const a = parseAttrs(m.data, IFADDRMSG_LEN);
  const raw = (family === 4 ? a.get(IFA_LOCAL) : undefined) ?? a.get(IFA_ADDRESS);
  if (!raw) return undefined;
  const address = formatIp(raw);
  const prefixLen = m.data[1];
  const out: Addr = {
    index: dv(m.data).getUint32(4, true),
    family,
    address,
    prefixLen,
    cidr: `${address}/${prefixLen}`,
    scope: scopeName(m.data[3]),
    flags: getU32(a.get(IFA_FLAGS)) ?? m.data[2],
  };
  const label = getStr(a.get(IFA_LABEL));
  if (label) out.label = label;
  return out;
}
