/**
 * Links (network interfaces): the typed object, the specs for creating each kind, and the
 * messages that create, change, delete and read them.
 */
import {
  type Attrs,
  dv,
  getI32,
  getStr,
  getU16be,
  getU32,
  getU8,
  MessageBuilder,
  type NlMessage,
  parseAttrs,
} from "./nl/codec.ts";
import {
  IFF_PROMISC,
  IFF_UP,
  IFINFOMSG_LEN,
  IFLA_ADDRESS,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINK_NETNSID,
  IFLA_LINKINFO,
  IFLA_MACVLAN_MODE,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_VXLAN_GROUP,
  IFLA_VXLAN_GROUP6,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LINK,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTEXT_FILTER_SKIP_STATS,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  VETH_INFO_PEER,
} from "./nl/consts.ts";
import { formatIp, formatMac, parseIp, parseMac } from "./nl/inet.ts";

/** A link by name or by ifindex. */
export type LinkRef = string | number;

/** macvlan modes as iproute2 names them. */
export type MacvlanMode = "private" | "vepa" | "bridge" | "passthru" | "source";

const MACVLAN_MODES: Record<MacvlanMode, number> = {
  private: 1,
  vepa: 2,
  bridge: 4,
  passthru: 8,
  source: 16,
};

/** The vxlan-specific part of a link. */
export interface VxlanInfo {
  /** The VNI. */
  id: number;
  remote?: string;
  local?: string;
  /** UDP destination port. */
  port?: number;
  /** ifindex of the underlay device (IFLA_VXLAN_LINK). */
  underlayIndex?: number;
  learning?: boolean;
}

/** A network interface as the kernel reports it. */
export interface Link {
  name: string;
  index: number;
  /** "veth", "macvlan", "vxlan", "bridge", ...; absent for plain devices such as lo. */
  kind?: string;
  mac?: string;
  mtu: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Promiscuous mode was asked for through this flag (IFF_PROMISC as the kernel reports it to rtnetlink). */
  promisc: boolean;
  /** The raw IFF_* flags. */
  flags: number;
  /** The bridge (or bond) this link is a port of. */
  masterIndex?: number;
  /** Set when the link's peer/parent lives in another namespace: that namespace's id as seen from here. */
  linkNetnsId?: number;
  /** IFLA_LINK for kinds other than veth: the macvlan's master device. */
  parentIndex?: number;
  /** For a veth: the other end's ifindex (in its own namespace, see linkNetnsId). */
  peerIndex?: number;
  vxlan?: VxlanInfo;
  macvlan?: { mode: MacvlanMode | number };
}

/** Fields every created link may set. */
export interface LinkSpecBase {
  name: string;
  mtu?: number;
  mac?: string;
  /** Bring it up as part of the creation. */
  up?: boolean;
  /** Create it directly in this namespace (IFLA_NET_NS_FD); lookups of master/underlay stay here. */
  nsFd?: number;
}

/**
 * A veth pair; `peer` may go to another namespace at creation. `up` raises this end only: the
 * kernel cannot raise the peer while creating the pair.
 */
export interface VethSpec extends LinkSpecBase {
  kind: "veth";
  peer: { name: string; mtu?: number; mac?: string; nsFd?: number };
}

/** A macvlan on `master`, mode bridge unless said otherwise. */
export interface MacvlanSpec extends LinkSpecBase {
  kind: "macvlan";
  master: LinkRef;
  mode?: MacvlanMode;
}

/**
 * A vxlan: learning off, port 4789, MTU the underlay's minus 50 (70 over IPv6) unless given.
 */
export interface VxlanSpec extends LinkSpecBase {
  kind: "vxlan";
  id: number;
  remote?: string;
  local?: string;
  port?: number;
  underlay?: LinkRef;
  learning?: boolean;
}

/** A Linux bridge. */
export interface BridgeSpec extends LinkSpecBase {
  kind: "bridge";
}

/** What {@link Handle.linkAdd} can create. */
export type LinkSpec = VethSpec | MacvlanSpec | VxlanSpec | BridgeSpec;

/** A change to an existing link; every field is optional. */
export interface LinkChange {
  up?: boolean;
  /** IFF_PROMISC on or off, as `ip link set DEV promisc on|off` does. */
  promisc?: boolean;
  mtu?: number;
  mac?: string;
  name?: string;
  nsFd?: number;
  /** ifindex of the new master; 0 removes it from its master. */
  masterIndex?: number;
}

/** Bytes a vxlan encapsulation adds: outer IP, UDP, vxlan and inner Ethernet headers. */
export const VXLAN_OVERHEAD = { 4: 50, 6: 70 } as const;

function ifHeader(b: MessageBuilder, ref: LinkRef, flags = 0, change = 0): MessageBuilder {
  if (typeof ref === "number") return b.ifinfo(ref, flags, change);
  return b.ifinfo(0, flags, change).str(IFLA_IFNAME, ref);
}

/** The common attributes of a new link or of a veth peer. */
function common(b: MessageBuilder, s: { name: string; mtu?: number; mac?: string; nsFd?: number }): void {
  b.str(IFLA_IFNAME, s.name);
  if (s.mtu !== undefined) b.u32(IFLA_MTU, s.mtu);
  if (s.mac !== undefined) b.attr(IFLA_ADDRESS, parseMac(s.mac));
  if (s.nsFd !== undefined) b.u32(IFLA_NET_NS_FD, s.nsFd);
}

/** Facts a create message needs from the creating namespace: ifindex and MTU of a named link. */
export type LinkResolver = (ref: LinkRef, what: string) => Link;

/** The RTM_NEWLINK message creating `spec`; `resolve` looks up master and underlay devices. */
export function linkAddMsg(spec: LinkSpec, resolve: LinkResolver): MessageBuilder {
  const b = new MessageBuilder(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  const upFlags = spec.up ? IFF_UP : 0;
  b.ifinfo(0, upFlags, upFlags);
  let mtu = spec.mtu;
  let linkIndex: number | undefined;
  if (spec.kind === "vxlan" && spec.underlay !== undefined) {
    const under = resolve(spec.underlay, "vxlan underlay");
    linkIndex = under.index;
    const v6 = [spec.remote, spec.local].some((a) => a !== undefined && a.includes(":"));
    mtu ??= under.mtu - VXLAN_OVERHEAD[v6 ? 6 : 4];
  }
  if (spec.kind === "macvlan") b.u32(IFLA_LINK, resolve(spec.master, "macvlan master").index);
  common(b, { ...spec, mtu });
  const info = b.nest(IFLA_LINKINFO);
  b.str(IFLA_INFO_KIND, spec.kind);
  if (spec.kind === "veth") {
    const data = b.nest(IFLA_INFO_DATA);
    const peer = b.nest(VETH_INFO_PEER);
    // No IFF_UP here: the kernel configures the peer before pairing it, so raising it at
    // creation fails with ENOTCONN. Raise the peer afterwards from its namespace's handle.
    b.ifinfo(0, 0, 0);
    // A pair with different MTUs at its ends is almost never wanted, so the peer follows.
    common(b, { ...spec.peer, mtu: spec.peer.mtu ?? spec.mtu });
    b.end(peer).end(data);
  } else if (spec.kind === "macvlan") {
    const data = b.nest(IFLA_INFO_DATA);
    b.u32(IFLA_MACVLAN_MODE, MACVLAN_MODES[spec.mode ?? "bridge"]).end(data);
  } else if (spec.kind === "vxlan") {
    const data = b.nest(IFLA_INFO_DATA);
    b.u32(IFLA_VXLAN_ID, spec.id);
    if (spec.remote !== undefined) {
      const r = parseIp(spec.remote);
      b.attr(r.family === 4 ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6, r.bytes);
    }
    if (spec.local !== undefined) {
      const l = parseIp(spec.local);
      b.attr(l.family === 4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, l.bytes);
    }
    if (linkIndex !== undefined) b.u32(IFLA_VXLAN_LINK, linkIndex);
    b.u16be(IFLA_VXLAN_PORT, spec.port ?? 4789);
    b.u8(IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0);
    b.end(data);
  }
  return b.end(info);
}

/** The RTM_DELLINK message for `ref`. */
export function linkDelMsg(ref: LinkRef): MessageBuilder {
  return ifHeader(new MessageBuilder(RTM_DELLINK, 0), ref);
}

/**
 * The RTM_NEWLINK message applying `change` to an existing link.
 *
 * A rename needs `ref` to be the ifindex, since IFLA_IFNAME then carries the new name.
 */
export function linkChangeMsg(ref: LinkRef, change: LinkChange): MessageBuilder {
  const b = new MessageBuilder(RTM_NEWLINK, 0);
  // ifi_change selects the flags to set; ifi_flags holds their new values (rtnetlink(7)).
  let flags = 0, mask = 0;
  for (const [bit, on] of [[IFF_UP, change.up], [IFF_PROMISC, change.promisc]] as const) {
    if (on === undefined) continue;
    mask |= bit;
    if (on) flags |= bit;
  }
  if (change.name !== undefined) {
    if (typeof ref !== "number") throw new TypeError("a rename needs the link's ifindex");
    b.ifinfo(ref, flags, mask).str(IFLA_IFNAME, change.name);
  } else {
    ifHeader(b, ref, flags, mask);
  }
  if (change.mtu !== undefined) b.u32(IFLA_MTU, change.mtu);
  if (change.mac !== undefined) b.attr(IFLA_ADDRESS, parseMac(change.mac));
  if (change.masterIndex !== undefined) b.u32(IFLA_MASTER, change.masterIndex);
  if (change.nsFd !== undefined) b.u32(IFLA_NET_NS_FD, change.nsFd);
  return b;
}

/** The RTM_GETLINK message for one link, or for all of them when `ref` is undefined (a dump). */
export function linkGetMsg(ref?: LinkRef): MessageBuilder {
  const b = new MessageBuilder(RTM_GETLINK, 0);
  if (ref === undefined) b.ifinfo(0, 0, 0);
  else ifHeader(b, ref);
  return b.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

function parseVxlan(d: Attrs): VxlanInfo {
  const remote = d.get(IFLA_VXLAN_GROUP) ?? d.get(IFLA_VXLAN_GROUP6);
  const local = d.get(IFLA_VXLAN_LOCAL) ?? d.get(IFLA_VXLAN_LOCAL6);
  const out: VxlanInfo = { id: getU32(d.get(IFLA_VXLAN_ID)) ?? 0 };
  if (remote && remote.some((x) => x !== 0)) out.remote = formatIp(remote);
  if (local && local.some((x) => x !== 0)) out.local = formatIp(local);
  const port = getU16be(d.get(IFLA_VXLAN_PORT));
  if (port !== undefined) out.port = port;
  const under = getU32(d.get(IFLA_VXLAN_LINK));
  if (under) out.underlayIndex = under;
  const learning = getU8(d.get(IFLA_VXLAN_LEARNING));
  if (learning !== undefined) out.learning = learning !== 0;
  return out;
}

/** Decodes an RTM_NEWLINK message. */
export function parseLink(m: NlMessage): Link {
  const head = dv(m.data);
  const flags = head.getUint32(8, true);
  const a = parseAttrs(m.data, IFINFOMSG_LEN);
  const link: Link = {
    name: getStr(a.get(IFLA_IFNAME)) ?? "",
    index: head.getInt32(4, true),
    mtu: getU32(a.get(IFLA_MTU)) ?? 0,
    up: (flags & IFF_UP) !== 0,
    promisc: (flags & IFF_PROMISC) !== 0,
    flags,
  };
  const mac = a.get(IFLA_ADDRESS);
  if (mac && mac.length === 6) link.mac = formatMac(mac);
  const master = getU32(a.get(IFLA_MASTER));
  if (master) link.masterIndex = master;
  const nsid = getI32(a.get(IFLA_LINK_NETNSID));
  if (nsid !== undefined) link.linkNetnsId = nsid;
  const info = a.get(IFLA_LINKINFO);
  const infoAttrs = info ? parseAttrs(info) : undefined;
  const kind = getStr(infoAttrs?.get(IFLA_INFO_KIND));
  if (kind) link.kind = kind;
  const parent = getU32(a.get(IFLA_LINK));
  // A plain device reports itself as its own IFLA_LINK; a veth's peer may share its index
  // when it lives in another namespace.
  if (parent && kind === "veth") link.peerIndex = parent;
  else if (parent && (parent !== link.index || nsid !== undefined)) link.parentIndex = parent;
  const data = infoAttrs?.get(IFLA_INFO_DATA);
  if (data && kind === "vxlan") link.vxlan = parseVxlan(parseAttrs(data));
  if (data && kind === "macvlan") {
    const n = getU32(parseAttrs(data).get(IFLA_MACVLAN_MODE)) ?? 0;
    const name = (Object.keys(MACVLAN_MODES) as MacvlanMode[]).find((k) => MACVLAN_MODES[k] === n);
    link.macvlan = { mode: name ?? n };
  }
  return link;
}
