/**
 * The kernel side of a link: a veth pair between two pods of one node, or one pod's vxlan end
 * towards another node. Every interface is created directly in its pod under a temporary name and
 * renamed there, so the requested name never exists anywhere else, and a failure leaves nothing.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Result } from "../cni/result.ts";
import { checkIface } from "../iface/check.ts";
import { configureIface } from "../iface/configure.ts";
import type { Handle } from "../netlink/handle.ts";
import { isNotFound, NetlinkError } from "../netlink/errors.ts";
import type { Link } from "../netlink/link.ts";
import { linkAddInNetns, tempIfName } from "../netlink/movein.ts";

/** The kinds ratchet makes; an interface of another kind under a link's name is never touched. */
const OURS = ["veth", "vxlan"];
/** The vxlan UDP port (IANA's), as the original used. */
export const VXLAN_PORT = 4789;

/** One pod's side of a link to make. */
export interface EndPlan {
  handle: Handle;
  ifname: string;
  ip?: string;
  /** The store records an end of this link for this container under `ifname`: a stale one may go. */
  ours?: boolean;
}

/** A vxlan end to make. */
export interface VxlanPlan extends EndPlan {
  vni: number;
  remote: string;
  /** The underlay's own address; the kernel picks one when empty. */
  local?: string;
  underlay: string;
  mtu?: number;
}

/** A CNI result holding just this interface and its address, for configureIface and checkIface. */
function oneInterface(ifname: string, ip: string | undefined, mac?: string): Result {
  return {
    cniVersion: "1.1.0",
    interfaces: [{ name: ifname, ...(mac ? { mac } : {}) }],
    ips: ip ? [{ address: ip, interface: 0 }] : [],
  };
}

/** EEXIST for a link end whose name `taken` already has in the pod (CNI code 101, errno in details). */
export function nameTaken(taken: Link): NetlinkError {
  return new NetlinkError(
    17,
    `making link end ${taken.name}`,
    "File exists",
    `the pod already has an interface ${taken.name} (${taken.kind ?? "device"}) that ratchet did not make`,
  );
}

/**
 * Makes room for a link end named `ifname` in the pod `h`. An interface of that name is deleted only
 * when the store's records say ratchet made it for this link and this container (`ours`: a vxlan
 * end whose peer moved, a veth end left by an interrupted pass); anything else is the pod's own and
 * is never touched.
 *
 * @throws NetlinkError EEXIST when the name is taken by an interface ratchet did not make (CNI
 *   spec, ADD: the runtime's interface name must not exist yet; CNI code 101)
 */
export function makeRoom(h: Handle, ifname: string, ours: boolean): void {
  const old = h.linkByName(ifname);
  if (!old) return;
  if (!ours || !OURS.includes(old.kind ?? "")) throw nameTaken(old);
  try {
    h.linkDel(old.index);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/**
 * Makes a veth pair from `node`, one end in each pod, addresses on, up. Returns both ends.
 * On failure neither end exists.
 */
export function makeVeth(node: Handle, a: EndPlan, b: EndPlan, mtu?: number): { a: Link; b: Link } {
  makeRoom(a.handle, a.ifname, a.ours ?? false);
  makeRoom(b.handle, b.ifname, b.ours ?? false);
  const peerTmp = tempIfName();
  const linkA = linkAddInNetns(node, a.handle, {
    kind: "veth",
    name: a.ifname,
    mtu,
    peer: { name: peerTmp, nsFd: b.handle.nsFd },
  });
  return deletingOnFailure(a.handle, linkA, () => {
    const peer = b.handle.linkByName(peerTmp);
    if (!peer) throw new NetlinkError(19, `finding veth peer ${peerTmp}`, "No such device");
    b.handle.linkRename(peer.index, b.ifname);
    const endB = configureIface(b.handle, b.ifname, oneInterface(b.ifname, b.ip));
    const endA = configureIface(a.handle, a.ifname, oneInterface(a.ifname, a.ip));
    return { a: endA, b: endB };
  });
}

/** Makes one pod's vxlan end on the node's underlay, address on, up. On failure it does not exist. */
export function makeVxlan(node: Handle, plan: VxlanPlan): Link {
  makeRoom(plan.handle, plan.ifname, plan.ours ?? false);
  const link = linkAddInNetns(node, plan.handle, {
    kind: "vxlan",
    name: plan.ifname,
    id: plan.vni,
    remote: plan.remote,
    local: plan.local || undefined,
    underlay: plan.underlay,
    port: VXLAN_PORT,
    learning: false,
    mtu: plan.mtu,
  });
  return deletingOnFailure(
    plan.handle,
    link,
    () => configureIface(plan.handle, plan.ifname, oneInterface(plan.ifname, plan.ip)),
  );
}

/** Runs the configuration of a new link, deleting the link (both ends, for a veth) if it fails. */
function deletingOnFailure<T>(h: Handle, link: Link, configure: () => T): T {
  try {
    return configure();
  } catch (e) {
    try {
      h.linkDel(link.index);
    } catch {
      // Best effort: the pod's DEL removes what is left.
    }
    throw e;
  }
}

/** Deletes a link end of ratchet's kinds; true when there was one. Absence is fine: DEL runs again. */
export function removeEnd(h: Handle, ifname: string): boolean {
  const link = h.linkByName(ifname);
  if (!link || !OURS.includes(link.kind ?? "")) return false;
  try {
    h.linkDel(link.index);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** What CHECK expects of one end. */
export interface EndExpectation {
  ifname: string;
  kind: "veth" | "vxlan";
  ip?: string;
  mac?: string;
  vni?: number;
  remote?: string;
}

/**
 * Compares one end with the kernel: exists, up, kind, address, and for a vxlan its VNI and remote.
 *
 * @throws CniError code 105 naming the first difference
 */
export function checkEnd(h: Handle, want: EndExpectation): Link {
  const link = checkIface(h, want.ifname, oneInterface(want.ifname, want.ip, want.mac));
  const differ = (what: string, expected: unknown, actual: unknown) =>
    new CniError(
      ErrorCode.CheckFailed,
      `CHECK: ${what} of ${want.ifname} differs`,
      `expected ${expected}, found ${actual}`,
    );
  if (link.kind !== want.kind) throw differ("kind", want.kind, link.kind ?? "none");
  if (want.vni !== undefined && link.vxlan?.id !== want.vni) throw differ("VNI", want.vni, link.vxlan?.id);
  if (want.remote !== undefined && link.vxlan?.remote !== want.remote) {
    throw differ("vxlan remote", want.remote, link.vxlan?.remote ?? "none");
  }
  return link;
}

/**
 * The address remote nodes should send vxlan traffic to: the first global address of the
 * underlay, IPv4 before IPv6. Undefined when it has none.
 */
export function underlayAddress(node: Handle, underlay: string): string | undefined {
  const link = node.linkByName(underlay);
  if (!link) return undefined;
  const addrs = node.addrList(link.index).filter((a) => a.scope === "global");
  return (addrs.find((a) => a.family === 4) ?? addrs[0])?.address;
}
