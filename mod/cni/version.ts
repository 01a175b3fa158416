/** The CNI spec versions this program speaks, oldest first. */
export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

/** The version this program answers VERSION with and writes its own results in. */
export const CURRENT_VERSION = "1.1.0";

/**
 * The version a config without `cniVersion`, or with an empty one, is read as. libcni's
 * ConfigDecoder does the same, and libcni writes a conflist's missing version into each plugin's
 * config as `""`, so the runtime then expects a result in the 0.1.0 shape (`ip4`, `ip6`, `dns`).
 */
export const UNVERSIONED = "0.1.0";

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** libcni matches versions by exact string, so only the listed spellings are accepted. */
export function isSupportedVersion(v: unknown): v is string {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** A config's `cniVersion` as libcni reads it: absent, null or "" is {@link UNVERSIONED}; anything else as written. */
export function configVersion(v: unknown): unknown {
  return v === undefined || v === null || v === "" ? UNVERSIONED : v;
}

/** The oldest config version that may carry each verb (CHECK came in 0.4.0, GC and STATUS in 1.1.0). */
export const VERB_MIN_VERSION: Record<string, string> = {
  ADD: "0.1.0",
  DEL: "0.1.0",
  CHECK: "0.4.0",
  GC: "1.1.0",
  STATUS: "1.1.0",
};

/** The VERSION answer; it never needs a full config, since libcni probes with only a cniVersion. */
export function versionInfo(): string {
  return JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS });
}
