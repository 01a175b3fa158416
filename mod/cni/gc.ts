import { configError, type NetConf } from "./skel.ts";

/** An attachment the runtime still uses, as GC's config lists it. */
export interface ValidAttachment {
  containerID: string;
  ifname: string;
}

/**
 * GC's list of live attachments: `cni.dev/valid-attachments`, or `cni.dev/attachments` as the
 * 1.1.0 tag's text spelled it. Returns the field name too, so that GC can be forwarded to
 * delegates under the name the runtime used. A malformed list is code 7, naming the entry.
 */
export function validAttachments(netConf: NetConf): { field: string; attachments: ValidAttachment[] } {
  const field = netConf["cni.dev/valid-attachments"] !== undefined
    ? "cni.dev/valid-attachments"
    : "cni.dev/attachments";
  const list = netConf[field];
  if (list === undefined) throw configError("cni.dev/valid-attachments", "is required for GC");
  if (!Array.isArray(list)) throw configError(field, "must be a list of {containerID, ifname}");
  const attachments = list.map((a, i) => {
    if (typeof a?.containerID !== "string" || typeof a?.ifname !== "string") {
      throw configError(`${field}[${i}]`, "must be an object with string containerID and ifname");
    }
    return { containerID: a.containerID as string, ifname: a.ifname as string };
  });
  return { field, attachments };
}

/** Five minutes: far longer than any ADD takes, and GC runs far less often than that matters. */
export const DEFAULT_GC_GRACE_SECONDS = 300;

/**
 * GC's grace period. A runtime lists the attachments it knows when GC starts, so an ADD still in
 * flight is missing from the list although its record may already be written: a record younger
 * than the grace period is never collected.
 */
export interface GcGrace {
  seconds: number;
  /**
   * True when a record written at `time` (ISO 8601) is younger than the grace period at `now`
   * (ms since the epoch). A missing or unreadable time has no known age: false.
   */
  isYoung(time: string | undefined, now?: number): boolean;
}

/**
 * Reads `gc_grace_seconds` (default {@link DEFAULT_GC_GRACE_SECONDS}) from a config block;
 * `where` names the block in errors, e.g. "ipam".
 * @throws CniError 7 naming the field when it is not a number of seconds, 0 or more
 */
export function gcGrace(block: Record<string, unknown>, where: string): GcGrace {
  const v = block.gc_grace_seconds ?? DEFAULT_GC_GRACE_SECONDS;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw configError(
      `${where ? `${where}.` : ""}gc_grace_seconds`,
      "must be a number of seconds, 0 or more",
    );
  }
  return {
    seconds: v,
    isYoung: (time, now = Date.now()) => {
      const born = time ? Date.parse(time) : NaN;
      return born > now - v * 1000;
    },
  };
}
