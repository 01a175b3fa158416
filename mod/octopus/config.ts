/**
 * The octopus network configuration: the original anchor's 10-anchor.conf fields, validated once,
 * every problem naming its field (CNI code 7).
 */
import { configError, type NetConf } from "../cni/skel.ts";
import type { Dns } from "../cni/result.ts";
import { ifnameProblem } from "../links/names.ts";
import { type Cidr, parseCidrOrReason } from "../ip/cidr.ts";

/** macvlan modes by their config names; "" is the original's spelling of the default. */
export const MACVLAN_MODES = ["bridge", "private", "vepa", "passthru"] as const;

/** One of {@link MACVLAN_MODES}. */
export type MacvlanMode = typeof MACVLAN_MODES[number];

/** One `octopus` entry: pods of `subnet` get a macvlan on `master`. */
export interface MasterEntry {
  /** The key as written in the config, which is what the original matched annotations against. */
  subnet: string;
  /** The key parsed, for matching a subnet spelled differently or an address. */
  cidr: Cidr;
  master: string;
}

/** The validated config octopus works from. */
export interface OctopusConf {
  cniVersion: string;
  name: string;
  /** In the config's order, so that overlapping entries resolve the same way every time. */
  masters: MasterEntry[];
  mode: MacvlanMode;
  /** 0 leaves the kernel's choice (the master's MTU). */
  mtu: number;
  /** The IPAM block as given; `type` is checked to be present. */
  ipam: Record<string, unknown> & { type: string };
  dns?: Dns;
}

/**
 * Validates a network config for octopus.
 *
 * @throws CniError code 7 naming the field, e.g. `octopus["10.0.1.0/33"] is not a subnet`.
 * @example
 * loadOctopusConf({ cniVersion: "1.0.0", name: "lan", type: "octopus",
 *   octopus: { "10.0.1.0/24": "eth0.2" }, ipam: { type: "host-local", subnet: "10.0.1.0/24" } });
 */
export function loadOctopusConf(netConf: NetConf): OctopusConf {
  const raw = netConf.octopus;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw configError(
      "octopus",
      'must be an object mapping subnets to master interfaces, e.g. {"10.0.1.0/24": "eth0.2"}',
    );
  }
  const masters: MasterEntry[] = [];
  for (const [subnet, master] of Object.entries(raw as Record<string, unknown>)) {
    const cidr = parseCidrOrReason(subnet.trim());
    if (typeof cidr === "string") {
      throw configError(`octopus[${JSON.stringify(subnet)}]`, `is not a subnet (${cidr})`);
    }
    if (typeof master !== "string" || ifnameProblem(master)) {
      throw configError(
        `octopus[${JSON.stringify(subnet)}]`,
        `must name a master interface, got ${JSON.stringify(master)}${
          typeof master === "string" ? ` (${ifnameProblem(master)})` : ""
        }`,
      );
    }
    masters.push({ subnet, cidr, master });
  }
  if (masters.length === 0) throw configError("octopus", "maps no subnet to a master interface");

  const mode = netConf.mode ?? "";
  if (typeof mode !== "string" || (mode !== "" && !(MACVLAN_MODES as readonly string[]).includes(mode))) {
    throw configError("mode", `must be one of ${MACVLAN_MODES.join(", ")}, got ${JSON.stringify(mode)}`);
  }
  const mtu = netConf.mtu ?? 0;
  if (typeof mtu !== "number" || !Number.isInteger(mtu) || (mtu !== 0 && (mtu < 68 || mtu > 65535))) {
    throw configError("mtu", `must be an integer from 68 to 65535, got ${JSON.stringify(mtu)}`);
  }
  const ipam = netConf.ipam;
  if (!ipam || typeof ipam !== "object" || typeof ipam.type !== "string" || !ipam.type) {
    throw configError("ipam.type", "must name the IPAM plugin (anchor, host-local, static, ...)");
  }
  if (
    netConf.dns !== undefined &&
    (typeof netConf.dns !== "object" || netConf.dns === null || Array.isArray(netConf.dns))
  ) {
    throw configError("dns", "must be an object {nameservers, domain, search, options}");
  }
  return {
    cniVersion: netConf.cniVersion,
    name: netConf.name,
    masters,
    mode: (mode || "bridge") as MacvlanMode,
    mtu,
    ipam: ipam as OctopusConf["ipam"],
    dns: netConf.dns as Dns | undefined,
  };
}
