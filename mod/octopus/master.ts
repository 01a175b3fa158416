/**
 * Which master interface carries a pod: the `octopus` entry for its subnet annotation, or for the
 * address IPAM gave it.
 */
import { contains, sameNetwork, tryParseCidr } from "../ip/cidr.ts";
import { tryParseIp } from "../ip/addr.ts";
import type { MasterEntry } from "./config.ts";
import { UnknownSubnetError } from "./errors.ts";

/**
 * The entry for a subnet as a pod's `cni.anchor.org/subnet` annotation names it.
 *
 * The original matched the string exactly; that still wins, so a config that relied on it keeps its
 * meaning. Failing that, any entry that is the same network counts ("10.0.1.7/24" or
 * "010.0.1.0/24" for "10.0.1.0/24"), because people write subnets in more than one way.
 *
 * @returns undefined when no entry matches
 */
export function masterForSubnet(masters: MasterEntry[], subnet: string): MasterEntry | undefined {
  const wanted = subnet.trim();
  const exact = masters.find((m) => m.subnet === wanted);
  if (exact) return exact;
  const cidr = tryParseCidr(wanted);
  return cidr && masters.find((m) => sameNetwork(m.cidr, cidr));
}

/**
 * The entry whose subnet contains `address` (an IP, or `ip/prefix` as IPAM results carry it); the
 * most specific one when entries overlap, so 10.0.1.0/24 beats 10.0.0.0/16.
 */
export function masterForAddress(masters: MasterEntry[], address: string): MasterEntry | undefined {
  const ip = tryParseIp(address.split("/")[0]);
  if (!ip) return undefined;
  let best: MasterEntry | undefined;
  for (const m of masters) {
    if (contains(m.cidr, ip) && (!best || m.cidr.prefix > best.cidr.prefix)) best = m;
  }
  return best;
}

/**
 * Picks the master for a pod: by its subnet annotation when it has one, else by the first address
 * IPAM returned that some entry contains.
 *
 * @throws UnknownSubnetError (code 103) when nothing matches
 */
export function chooseMaster(
  masters: MasterEntry[],
  pick: { subnet?: string; addresses?: string[] },
): MasterEntry {
  if (pick.subnet) {
    const m = masterForSubnet(masters, pick.subnet);
    if (!m) throw new UnknownSubnetError(`subnet ${pick.subnet}`, masters.map((e) => e.subnet));
    return m;
  }
  for (const a of pick.addresses ?? []) {
    const m = masterForAddress(masters, a);
    if (m) return m;
  }
  throw new UnknownSubnetError(
    pick.addresses?.length
      ? `address ${pick.addresses.join(", ")}`
      : "a pod with no subnet annotation and no address",
    masters.map((e) => e.subnet),
  );
}
