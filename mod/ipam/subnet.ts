/** Checks on the subnets and gateways pods are placed in, shared by ADD and the `anchor gw` command. */
import { bitsOf, formatIp, type IpAddr, parseIpOrReason } from "../ip/addr.ts";
import { type Cidr, contains, formatCidr, hostRange, networkOf, parseCidrOrReason } from "../ip/cidr.ts";
import { GatewayError, SubnetError } from "./errors.ts";

/**
 * Reads a pod subnet such as "10.0.1.0/24" or "fd00:1::/64".
 *
 * /31 and /32 (and /127, /128 in IPv6) are refused, as the original did: the pod needs its own address
 * and a gateway on the link besides the network and broadcast addresses the pool skips, and a block of
 * two addresses or one has no room for that.
 * @param source where the text came from, for the message: "annotation cni.anchor.org/subnet".
 * @throws SubnetError
 */
export function checkSubnet(text: string, source: string): Cidr {
  const c = parseCidrOrReason(text.trim());
  if (typeof c === "string") throw new SubnetError(source, text, `not a CIDR block like 10.0.1.0/24: ${c}`);
  const n = networkOf(c);
  if (n.addr !== c.addr) {
    throw new SubnetError(source, text, `host bits are set; the subnet is ${formatCidr(n)}`);
  }
  if (c.prefix >= bitsOf(c.family) - 1) {
    throw new SubnetError(
      source,
      text,
      `a /${c.prefix} has no room for a pod address and a gateway besides the network${
        c.family === 4 ? " and broadcast" : ""
      } address`,
    );
  }
  return n;
}

/**
 * Reads a gateway and checks that it is a host address of the subnet (not the network, broadcast or
 * subnet-router anycast address).
 * @throws GatewayError
 */
export function checkGateway(text: string, subnet: Cidr, source: string): IpAddr {
  const subnetText = formatCidr(subnet);
  const ip = parseIpOrReason(text.trim());
  if (typeof ip === "string") throw new GatewayError(source, text, subnetText, `not an address: ${ip}`);
  if (!contains(subnet, ip)) throw new GatewayError(source, text, subnetText, "it is outside the subnet");
  const h = hostRange(subnet);
  if (ip.value < h.start || ip.value > h.end) {
    throw new GatewayError(
      source,
      formatIp(ip),
      subnetText,
      `it is the subnet's ${ip.value < h.start ? "network" : "broadcast"} address`,
    );
  }
  return ip;
}
