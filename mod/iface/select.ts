/**
 * Which parts of a CNI result belong to one interface, and the canonical text used to compare
 * them with what the kernel reports.
 */
import type { IpConfig, Result, Route as CniRoute } from "../cni/result.ts";
import { canonicalCidr } from "../ip/cidr.ts";
import { canonicalIp, tryParseIp } from "../ip/addr.ts";

/**
 * The result's addresses for `ifname`: those whose `interface` index names it. Addresses without an
 * index count too, so a raw IPAM result (which has no interfaces) can be applied as it is.
 */
export function ipsFor(result: Result, ifname: string): IpConfig[] {
  return (result.ips ?? []).filter((ip) =>
    ip.interface === undefined || result.interfaces?.[ip.interface]?.name === ifname
  );
}

/**
 * The gateway a route without one uses: the `gateway` of the first address of the same family,
 * as containernetworking's ConfigureIface does.
 */
export function routeGateway(route: CniRoute, ips: IpConfig[]): string | undefined {
  if (route.gw) return route.gw;
  const family = familyOfCidr(route.dst);
  return ips.find((ip) => ip.gateway && familyOfCidr(ip.address) === family)?.gateway;
}

/** 4 or 6 for "addr/prefix" or a bare address. */
export function familyOfCidr(text: string): 4 | 6 {
  return text.includes(":") ? 6 : 4;
}

/** Canonical "addr/prefix" with host bits kept, "0.0.0.0/0" for the kernel's "default". */
export function canonicalDst(dst: string, family: 4 | 6): string {
  if (dst === "default") return family === 4 ? "0.0.0.0/0" : "::/0";
  return canonicalCidr(dst, true);
}

/** Canonical address text, or the input when it is not an address (so a comparison just fails). */
export function canonicalAddr(text: string): string {
  return tryParseIp(text) ? canonicalIp(text) : text;
}

/** Canonical "addr/prefix" keeping host bits, as an interface address is written. */
export function canonicalIfaceCidr(text: string): string {
  return canonicalCidr(text);
}
