/** The CNI spec versions this program speaks, oldest first. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

/** The version this program answers VERSION with and writes its own results in. */
export const CURRENT_VERSION = "1.1.0";

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

/** The oldest config version that may carry each verb (CHECK came in 0.4.0, GC and STATUS in 1.1.0). */
export const VERB_MIN_VERSION: Record<string, string> = {
  ADD: "0.3.0",
  DEL: "0.3.0",
  CHECK: "0.4.0",
  GC: "1.1.0",
  STATUS: "1.1.0",
};
