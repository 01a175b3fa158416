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

/** Reads a result (a prevResult, or a delegate's stdout) written in any supported version. */
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
  if (r.interfaces !== undefined) out.interfaces = arrayOf<Interface>(r.interfaces, `${what}.interfaces`);
  if (r.ips !== undefined) {
    out.ips = arrayOf<IpConfig & { version?: string }>(r.ips, `${what}.ips`).map(({ version: _, ...ip }) => {
      if (typeof ip.address !== "string") {
        throw new CniError(ErrorCode.DecodingFailure, `${what}.ips[].address is missing`);
      }
      return ip;
    });
  }
  if (r.routes !== undefined) out.routes = arrayOf<Route>(r.routes, `${what}.routes`);
  if (r.dns !== undefined && r.dns !== null) out.dns = r.dns as Dns;
  return out;
}

function arrayOf<T>(v: unknown, what: string): T[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new CniError(ErrorCode.DecodingFailure, `${what} is not a list`);
  return v.map((x) => ({ ...x })) as T[];
}

/** Writes a result as a plugin that speaks `version` would, dropping what that version does not know. */
export function toVersion(result: Result, version: string): Record<string, unknown> {
  const modern = compareVersions(version, "1.1.0") >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces?.length) {
    out.interfaces = result.interfaces.map((i) => {
      const { mtu, socketPath, pciID, ...base } = i;
      return modern ? prune({ ...base, mtu, socketPath, pciID }) : prune(base);
    });
  }
  if (result.ips?.length) {
    const withFamily = compareVersions(version, "1.0.0") < 0;
    out.ips = result.ips.map((ip) =>
      prune(withFamily ? { version: ip.address.includes(":") ? "6" : "4", ...ip } : { ...ip })
    );
  }
  if (result.routes?.length) {
    out.routes = result.routes.map((r) => modern ? prune({ ...r }) : prune({ dst: r.dst, gw: r.gw }));
  }
  if (
    result.dns && Object.values(result.dns).some((v) => v !== undefined && (!Array.isArray(v) || v.length))
  ) {
    out.dns = prune({ ...result.dns });
  }
  return out;
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
