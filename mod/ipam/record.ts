/**
 * The allocation record at `/anchor/cn/<id>`.
 *
 * The original wrote `<ip>,<podName>,<podNamespace>,<controller>`. We keep those four fields first and
 * append what DEL, CHECK and GC need: `,<ifname>,<node>,<network>,<time>`, e.g.
 * `10.0.1.2,web-0,default,web,eth0,node01,anchor,2026-11-23T12:00:00.000Z`. A reader of the original
 * format still finds its four fields where it expects them, and we read the original's four-field
 * values (and bare addresses) as records without the extra fields.
 */
import { canonicalIp, tryParseIp } from "../ip/addr.ts";
import { containerOf } from "./keys.ts";

/** One allocation as stored. */
export interface AllocationRecord {
  /** The key suffix after `/anchor/cn/`: the container ID, or `<containerID>:<ifname>` (see keys.ts). */
  id: string;
  containerId: string;
  /** Canonical address text. */
  ip: string;
  podName: string;
  podNamespace: string;
  /** The pod's controller (a Deployment's name for a ReplicaSet's pod), or "unknown". */
  controller: string;
  /** Absent in records the original anchor wrote; such a record matches any interface name. */
  ifname?: string;
  /** The node that allocated; GC only touches records of its own node. */
  node?: string;
  /** The CNI network name; GC only touches records of its own network. */
  network?: string;
  /** When ADD wrote the record, ISO 8601. */
  time?: string;
}

/** A record value that cannot be read; the field says which part is wrong. */
export class RecordFormatError extends Error {
  constructor(readonly id: string, readonly value: string, readonly problem: string) {
    super(`allocation record /anchor/cn/${id} = ${JSON.stringify(value)}: ${problem}`);
    this.name = "RecordFormatError";
  }
}

const EXTRA = ["ifname", "node", "network", "time"] as const;

/**
 * Writes a record's value. Fields may not contain commas, which would shift every later field.
 * @throws RecordFormatError naming the field.
 */
export function encodeRecord(r: AllocationRecord): string {
  const fields = [r.ip, r.podName, r.podNamespace, r.controller];
  if (r.ifname !== undefined) fields.push(r.ifname, r.node ?? "", r.network ?? "", r.time ?? "");
  const bad = fields.findIndex((f) => f.includes(","));
  if (bad >= 0) {
    const name = ["ip", "podName", "podNamespace", "controller", ...EXTRA][bad];
    throw new RecordFormatError(
      r.id,
      fields.join(","),
      `${name} ${JSON.stringify(fields[bad])} contains a comma`,
    );
  }
  return fields.join(",");
}

/**
 * Reads a record's value, in our format or the original's.
 * @throws RecordFormatError when the first field is not an address.
 */
export function decodeRecord(id: string, value: string): AllocationRecord {
  const f = value.split(",").map((s) => s.trim());
  const ip = tryParseIp(f[0]);
  if (!ip) {
    throw new RecordFormatError(id, value, `the first field ${JSON.stringify(f[0])} is not an address`);
  }
  const r: AllocationRecord = {
    id,
    containerId: containerOf(id),
    ip: canonicalIp(f[0]),
    podName: f[1] ?? "",
    podNamespace: f[2] ?? "",
    controller: f[3] ?? "",
  };
  if (f.length > 4 && f[4] !== "") {
    r.ifname = f[4];
    EXTRA.slice(1).forEach((name, i) => {
      const v = f[5 + i];
      if (v) r[name] = v;
    });
  }
  return r;
}

/** True when the record is the allocation of this container's interface (an original record matches any). */
export function recordMatches(r: AllocationRecord, containerId: string, ifname: string): boolean {
  return r.containerId === containerId && (r.ifname === undefined || r.ifname === ifname);
}

/**
 * Like decodeRecord, but an unreadable value becomes a record without an address instead of an error:
 * the key still belongs to its container, and DEL must be able to free it or ADD could never reuse it.
 */
export function decodeOrBlank(id: string, value: string): AllocationRecord {
  try {
    return decodeRecord(id, value);
  } catch (e) {
    if (!(e instanceof RecordFormatError)) throw e;
    return { id, containerId: containerOf(id), ip: "", podName: "", podNamespace: "", controller: "" };
  }
}
