/**
 * rtnetlink over Deno FFI: links, addresses, routes, namespaces, sysctls and gratuitous ARP,
 * without ip(8) or a native addon.
 *
 * @example
 * import { Handle, linkAddInNetns } from "./mod/netlink/mod.ts";
 * const host = Handle.open();
 * const pod = Handle.open("/run/netns/pod1");
 * linkAddInNetns(host, pod, { kind: "veth", name: "eth0", peer: { name: "veth1a2b", up: true }, up: true });
 * pod.addrAdd("eth0", "10.0.0.2/24");
 */
export { type Addr, type AddrOptions } from "./addr.ts";
export { garpFrame, type GarpOptions, sendGratuitousArp } from "./arp.ts";
export { errnoName, isErrno, isNotFound, NetlinkError, NotNetnsError } from "./errors.ts";
export { Handle, type RouteFilter } from "./handle.ts";
export {
  type BridgeSpec,
  type Link,
  type LinkChange,
  type LinkRef,
  type LinkSpec,
  type MacvlanMode,
  type MacvlanSpec,
  type VethSpec,
  VXLAN_OVERHEAD,
  type VxlanInfo,
  type VxlanSpec,
} from "./link.ts";
export { linkAddInNetns, type MoveInOptions, tempIfName } from "./movein.ts";
export { AsyncInNetnsError, Netns, THREAD_NETNS, withNetns } from "./netns.ts";
export { type Route, type RouteSpec } from "./route.ts";
export { type Scope } from "./scope.ts";
export { sysctlGet, sysctlPath, sysctlSet } from "./sysctl.ts";
export { AddressFormatError, formatIp, formatMac, parseCidr, parseIp, parseMac } from "./nl/inet.ts";
