import { CniError, ErrorCode } from "./errors.ts";
import { compareVersions, isSupportedVersion, SUPPORTED_VERSIONS } from "./version.ts";

/** An interface a plugin made or changed. */
export interface Interface {
  name: string;
  mac?: string;
  /** 1.1.0 and later. */
  mtu?: number;
  sandbox?: string;
  /** 1.1.0 and later. */
  socketPath?: string;
  /** 1.1.0 and later. */
  pciID?: string;
}

/** An address; `interface` is an index into `interfaces`. */
export interface IpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  /** The fields below are 1.1.0 and later. */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/**
 * A result in the newest shape (1.1.0), whatever version it was read from;
 * `toVersion` writes it out in the version a config asked for.
 */
export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
}

/**
 * Reads a result (a prevResult, or a delegate's stdout) written in any supported version into the
 * newest shape: 0.1.0/0.2.0's `ip4`/`ip6` (each with its routes) become `ips` and `routes`, as
 * libcni's types040 convertFrom02x does; 0.3.x/0.4.0's per-address `version` is dropped, as
 * types100 convertFrom04x does.
 * @throws CniError 1 for an unsupported `cniVersion`, 6 for a malformed field.
 */
export function parseResult(raw: unknown, what = "result"): Result {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new CniError(ErrorCode.DecodingFailure, `${what} is not a JSON object`);
  }
  const r = raw as Record<string, unknown>;
  const version = r.cniVersion;
  if (!isSupportedVersion(version)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `${what} has CNI version ${JSON.stringify(version)}`,
      `supported versions are ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  const out: Result = { cniVersion: version };
  // Debian's plugins (loopback, 1.1.1) label a result in the later shape "0.1.0"; that shape is read
  // whatever the label, so nothing they report is lost.
  const legacy = compareVersions(version, "0.3.0") < 0 && r.ips === undefined && r.interfaces === undefined;
  if (legacy) {
    const ips: IpConfig[] = [], routes: Route[] = [];
    for (const family of ["ip4", "ip6"]) {
      const ipc = r[family] as { ip?: unknown; gateway?: unknown; routes?: unknown } | undefined | null;
      if (ipc === undefined || ipc === null) continue;
      if (typeof ipc !== "object" || typeof ipc.ip !== "string") {
        throw new CniError(ErrorCode.DecodingFailure, `${what}.${family}.ip is missing`);
      }
      ips.push(
        prune({ address: ipc.ip, gateway: typeof ipc.gateway === "string" ? ipc.gateway : undefined }),
      );
      if (ipc.routes !== undefined) routes.push(...arrayOf<Route>(ipc.routes, `${what}.${family}.routes`));
    }
    if (ips.length) out.ips = ips;
    if (routes.length) out.routes = routes;
  } else {
    if (r.interfaces !== undefined) out.interfaces = arrayOf<Interface>(r.interfaces, `${what}.interfaces`);
    if (r.ips !== undefined) {
      out.ips = arrayOf<IpConfig & { version?: string }>(r.ips, `${what}.ips`).map(
        ({ version: _, ...ip }) => {
          if (typeof ip.address !== "string") {
            throw new CniError(ErrorCode.DecodingFailure, `${what}.ips[].address is missing`);
          }
          return ip;
        },
      );
    }
    if (r.routes !== undefined) out.routes = arrayOf<Route>(r.routes, `${what}.routes`);
  }
  if (r.dns !== undefined && r.dns !== null) out.dns = r.dns as Dns;
  return out;
}

function arrayOf<T>(v: unknown, what: string): T[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new CniError(ErrorCode.DecodingFailure, `${what} is not a list`);
  return v.map((x) => ({ ...x })) as T[];
}

/**
 * Writes a result as a plugin that speaks `version` would, with libcni's converters' rules
 * (containernetworking/cni pkg/types/040 and 100):
 *
 * | to              | interfaces                          | ips                                  | routes                                   |
 * | --------------- | ----------------------------------- | ------------------------------------ | ---------------------------------------- |
 * | 1.0.0, 1.1.0    | every field                         | as they are                          | every field                              |
 * | 0.3.0 - 0.4.0   | name, mac, sandbox                  | each gets `version` "4" or "6"       | every field                              |
 * | 0.1.0, 0.2.0    | dropped                             | the first IPv4 as `ip4`, the first IPv6 as `ip6` | dst and gw, under the ip4/ip6 of the route's family (dropped when that family has no address) |
 *
 * DNS is kept in every version. A result with no address is written as 0.1.0/0.2.0 with only its
 * version and DNS, where libcni's converter refuses it ("no valid IP addresses"): the ADD has been
 * done by then, and libcni reads such a result (Debian's loopback answers one) without complaint.
 */
export function toVersion(result: Result, version: string): Record<string, unknown> {
  if (compareVersions(version, "0.3.0") < 0) return toVersion02x(result, version);
  const modern = compareVersions(version, "1.0.0") >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces?.length) {
    out.interfaces = result.interfaces.map((i) =>
      modern ? prune({ ...i }) : prune({ name: i.name, mac: i.mac, sandbox: i.sandbox })
    );
  }
  if (result.ips?.length) {
    out.ips = result.ips.map((ip) =>
      prune(modern ? { ...ip } : { version: isIpv6(ip.address) ? "6" : "4", ...ip })
    );
  }
  if (result.routes?.length) out.routes = result.routes.map((r) => prune({ ...r }));
  if (hasDns(result.dns)) out.dns = prune({ ...result.dns });
  return out;
}

/** The 0.1.0/0.2.0 shape, as types040 convertTo02x writes it. */
function toVersion02x(result: Result, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  const byFamily: Record<"ip4" | "ip6", { ip: string; gateway?: string; routes?: Route[] } | undefined> = {
    ip4: undefined,
    ip6: undefined,
  };
  for (const ip of result.ips ?? []) {
    const family = isIpv6(ip.address) ? "ip6" : "ip4";
    byFamily[family] ??= prune({ ip: ip.address, gateway: ip.gateway });
  }
  for (const r of result.routes ?? []) {
    const ipc = byFamily[isIpv6(r.dst) ? "ip6" : "ip4"];
    if (ipc) (ipc.routes ??= []).push(prune({ dst: r.dst, gw: r.gw }));
  }
  if (byFamily.ip4) out.ip4 = byFamily.ip4;
  if (byFamily.ip6) out.ip6 = byFamily.ip6;
  if (hasDns(result.dns)) out.dns = prune({ ...result.dns });
  return out;
}

/**
 * Converts a result, as a delegate or an earlier plugin in a chain printed it, to `version`: what
 * libcni's `GetAsVersion` does. Meta plugins pass their delegate's result on through this.
 * @throws CniError as parseResult does.
 */
export function convertResult(raw: unknown, version: string, what = "result"): Record<string, unknown> {
  return toVersion(parseResult(raw, what), version);
}

function isIpv6(address: string): boolean {
  return address.includes(":");
}

function hasDns(dns?: Dns): dns is Dns {
  return !!dns && Object.values(dns).some((v) => v !== undefined && (!Array.isArray(v) || v.length));
}

function prune<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Concatenates `extra` onto `base`, renumbering extra's interface indexes. */
export function appendResult(base: Result, extra: Result): Result {
  const offset = base.interfaces?.length ?? 0;
  return {
    ...base,
    interfaces: [...(base.interfaces ?? []), ...(extra.interfaces ?? [])],
    ips: [
      ...(base.ips ?? []),
      ...(extra.ips ?? []).map((ip) =>
        ip.interface === undefined ? ip : { ...ip, interface: ip.interface + offset }
      ),
    ],
    routes: [...(base.routes ?? []), ...(extra.routes ?? [])],
    dns: base.dns ?? extra.dns,
  };
}

/**
 * Why a CRI runtime would refuse this ADD result, or undefined when it would take it. containerd
 * (go-cni) and CRI-O read the pod's IP from the interface named CNI_IFNAME in the sandbox, and fail
 * RunPodSandbox with "failed to find network info for sandbox" when that interface or its address is
 * missing (observed with containerd 1.6; ../shared/cri/README.md). libcni and podman do not ask for it.
 */
export function criResultProblem(result: Result, ifname: string): string | undefined {
  const index = (result.interfaces ?? []).findIndex((i) => i.name === ifname && i.sandbox);
  if (index >= 0 && (result.ips ?? []).some((ip) => ip.interface === index)) return undefined;
  return `the result has no interface ${ifname} (CNI_IFNAME) with an address in the pod: containerd and ` +
    `CRI-O fail such a pod with "failed to find network info for sandbox"`;
}
