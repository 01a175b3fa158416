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
