/**
 * Applying an IP result to an interface: containernetworking's ipam.ConfigureIface, for every
 * plugin of this program that configures an interface (octopus, ratchet).
 */
import type { Result } from "../cni/result.ts";
import type { Handle } from "../netlink/handle.ts";
import { isErrno } from "../netlink/errors.ts";
import type { Link } from "../netlink/link.ts";
import { familyOfCidr, ipsFor, routeGateway } from "./select.ts";

/** Raised when the interface to configure does not exist in the handle's namespace. */
export class IfaceMissingError extends Error {
  constructor(readonly ifname: string) {
    super(`interface ${ifname} does not exist in the target namespace`);
    this.name = "IfaceMissingError";
  }
}

/** Knobs of {@link configureIface}; the defaults suit a fresh pod interface. */
export interface ConfigureOptions {
  /** Send a gratuitous ARP for each IPv4 address (default true), so neighbours forget a previous owner's MAC. */
  garp?: boolean;
}

/**
 * Configures `ifname` in the handle's namespace from a CNI result:
 * 1. IPv6 enabled on the link when the result has an IPv6 address (containers often start with it off);
 * 2. every address of `ipsFor(result, ifname)` added (IPv6 without duplicate address detection, so it
 *    is usable at once; an address already there is kept);
 * 3. arp_notify set, so that bringing the link up announces its IPv4 addresses (gratuitous ARP);
 * 4. the link brought up;
 * 5. every route of `result.routes` added or replaced on the link, a route without `gw` taking the
 *    gateway of the first address of its family (so a result's `0.0.0.0/0` becomes the default route).
 *
 * It does not roll back: the caller owns the link and deletes it on failure.
 *
 * @returns the link after configuration (its MAC, index and MTU for the CNI result)
 * @throws IfaceMissingError, or NetlinkError for what the kernel refused (CNI code 101)
 * @example
 * const pod = Handle.open(env.netns);
 * try { configureIface(pod, "eth0", result); } finally { pod.close(); }
 */
export function configureIface(
  handle: Handle,
  ifname: string,
  result: Result,
  opts: ConfigureOptions = {},
): Link {
  const link = handle.linkByName(ifname);
  if (!link) throw new IfaceMissingError(ifname);
  const ips = ipsFor(result, ifname);
  if (ips.some((ip) => familyOfCidr(ip.address) === 6)) enableIpv6(handle, ifname);
  for (const ip of ips) {
    try {
      handle.addrAdd(link.index, ip.address, { noDad: familyOfCidr(ip.address) === 6 });
    } catch (e) {
      // Re-applying the same result (a retried ADD) is not an error.
      if (!isErrno(e, "EEXIST")) throw e;
    }
  }
  // The announcement: with arp_notify the kernel itself sends a gratuitous ARP for the link's
  // addresses as it comes up. A raw packet socket would do the same but costs ~10 ms to close
  // (packet_release waits for an RCU grace period), which every ADD would pay.
  if (opts.garp !== false && ips.some((ip) => familyOfCidr(ip.address) === 4)) {
    handle.sysctlSet(`net/ipv4/conf/${ifname}/arp_notify`, 1);
  }
  handle.linkSetUp(link.index);
  for (const r of result.routes ?? []) {
    handle.routeReplace({
      dst: r.dst,
      gw: routeGateway(r, ips),
      dev: link.index,
      metric: r.priority,
      table: r.table,
      scope: r.scope,
      family: familyOfCidr(r.dst),
    });
  }
  return handle.linkByIndex(link.index) ?? link;
}

function enableIpv6(handle: Handle, ifname: string): void {
  try {
    // The slash form, because an interface name may contain dots (eth0.2).
    handle.sysctlSet(`net/ipv6/conf/${ifname}/disable_ipv6`, 0);
  } catch (e) {
    // No such key: IPv6 is compiled out or disabled at boot; adding the address will say so.
    if (!isErrno(e, "ENOENT")) throw e;
  }
}
