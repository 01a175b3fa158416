/**
 * CHECK's half of {@link configureIface}: is the kernel still what the result says?
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Result } from "../cni/result.ts";
import type { Handle } from "../netlink/handle.ts";
import type { Link } from "../netlink/link.ts";
import {
  canonicalAddr,
  canonicalDst,
  canonicalIfaceCidr,
  familyOfCidr,
  ipsFor,
  routeGateway,
} from "./select.ts";

/**
 * CHECK found a difference (CNI code 105). `what` says which part ("link", "mac", "address",
 * "route"), `expected` what the result holds, `actual` what the kernel has, when there is something.
 */
export class IfaceCheckError extends CniError {
  constructor(
    readonly ifname: string,
    readonly what: string,
    readonly expected: string,
    readonly actual?: string,
  ) {
    super(
      ErrorCode.CheckFailed,
      `CHECK: ${what} of ${ifname} differs from the previous result`,
      `expected ${expected}${actual !== undefined ? `, found ${actual}` : ""}`,
    );
    this.name = "IfaceCheckError";
  }
}

/**
 * Compares `ifname` in the handle's namespace with a previous result: the link exists and is up,
 * its MAC is the one the result's interface entry names (if it names one), each address of
 * `ipsFor(result, ifname)` is on it, and each route of `result.routes` exists through it with the
 * same gateway. Extra addresses and routes (IPv6 link-local, the kernel's prefix routes) are fine.
 *
 * @returns the link, for checks of kind-specific attributes
 * @throws IfaceCheckError naming the first difference
 */
export function checkIface(handle: Handle, ifname: string, result: Result): Link {
  const link = handle.linkByName(ifname);
  if (!link) throw new IfaceCheckError(ifname, "link", "an interface", "none");
  if (!link.up) throw new IfaceCheckError(ifname, "state", "up", "down");
  const entry = result.interfaces?.find((i) => i.name === ifname);
  if (entry?.mac && link.mac && entry.mac.toLowerCase() !== link.mac.toLowerCase()) {
    throw new IfaceCheckError(ifname, "mac", entry.mac, link.mac);
  }
  const ips = ipsFor(result, ifname);
  const have = handle.addrList(link.index).map((a) => canonicalIfaceCidr(a.cidr));
  for (const ip of ips) {
    if (!have.includes(canonicalIfaceCidr(ip.address))) {
      throw new IfaceCheckError(ifname, "address", ip.address, have.join(", ") || "no address");
    }
  }
  if (result.routes?.length) {
    const routes = handle.routeList({ dev: link.index, table: "all" });
    for (const r of result.routes) {
      const family = familyOfCidr(r.dst);
      const dst = canonicalDst(r.dst, family);
      const gw = routeGateway(r, ips);
      const found = routes.some((k) =>
        k.family === family && canonicalDst(k.dst, family) === dst &&
        (gw === undefined
          ? k.gw === undefined
          : k.gw !== undefined && canonicalAddr(k.gw) === canonicalAddr(gw)) &&
        (r.table === undefined || k.table === r.table)
      );
      if (!found) {
        throw new IfaceCheckError(ifname, "route", `${r.dst}${gw ? ` via ${gw}` : ""}`, "no such route");
      }
    }
  }
  return link;
}
