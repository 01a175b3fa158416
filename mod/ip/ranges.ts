/**
 * anchor's pool grammar, the one reader the IPAM, the DSL linter and the web UI share.
 *
 * A pool is a comma-separated list of items, each trimmed:
 * - a single address: `10.0.2.8`, `fd00::8`;
 * - a last-octet range `prefix[a-b]`: `10.0.1.[2-9]` is 10.0.1.2 to 10.0.1.9 (decimal, 0-255);
 *   for IPv6 the last hextet in hex: `fd00::[a-ff]` is fd00::a to fd00::ff;
 * - a CIDR block, meaning its host addresses: `10.0.3.0/28` is 10.0.3.1 to 10.0.3.14.
 *
 * @example
 * ```ts
 * const { ranges, errors } = parseRanges("10.0.1.[2-9], 10.0.2.8");
 * const { ranges: usable, skipped } = filterToSubnet(ranges, parseCidr("10.0.1.0/24"));
 * ```
 */
import { type Family, formatIp, type IpAddr, parseIpOrReason } from "./addr.ts";
import { type Cidr, hostMask, hostRange, parseCidrOrReason } from "./cidr.ts";

/** An inclusive run of addresses of one family. */
export interface IpRange {
  family: Family;
  start: bigint;
  end: bigint;
}

/** One valid item of a pool string, before merging; `index` is its offset in the string. */
export interface RangeItem {
  item: string;
  index: number;
  range: IpRange;
}

/** A malformed item: the text, its offset in the string and a message that names it. */
export interface RangeItemError {
  item: string;
  index: number;
  message: string;
}

/** What parseRanges found: merged ranges, the items they came from, and every malformed item. */
export interface ParsedRanges {
  ranges: IpRange[];
  items: RangeItem[];
  errors: RangeItemError[];
}

/** Reads the bound of a bracket range, or returns undefined when it is not a number in the base. */
function readBound(s: string, hex: boolean): number | undefined {
  const t = s.trim();
  if (t.length === 0 || t.length > (hex ? 4 : 3)) return undefined;
  let n = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (hex && c >= 97 && c <= 102) d = c - 87;
    else if (hex && c >= 65 && c <= 70) d = c - 55;
    else return undefined;
    n = n * (hex ? 16 : 10) + d;
  }
  return n;
}

function parseBracket(item: string, open: number): IpRange | string {
  const close = item.indexOf("]", open);
  if (close !== item.length - 1 || item.indexOf("[", open + 1) >= 0) {
    return "a range must end the item, as in 10.0.1.[2-9]";
  }
  const prefix = item.slice(0, open);
  const v6 = prefix.indexOf(":") >= 0;
  if (!prefix.endsWith(v6 ? ":" : ".")) {
    return `the range replaces the last ${v6 ? "hextet" : "octet"}, so it must follow a "${v6 ? ":" : "."}"`;
  }
  const base = parseIpOrReason(prefix + "0");
  if (typeof base === "string") return `bad prefix "${prefix}": ${base}`;
  const inner = item.slice(open + 1, close);
  const dash = inner.indexOf("-");
  if (dash < 0) return "expected [a-b]";
  const a = readBound(inner.slice(0, dash), v6), b = readBound(inner.slice(dash + 1), v6);
  const what = v6 ? "hex 0-ffff" : "0-255";
  if (a === undefined || b === undefined || a > (v6 ? 0xffff : 255) || b > (v6 ? 0xffff : 255)) {
    return `bounds must be ${what}`;
  }
  if (a > b) return `reversed range: ${inner.slice(0, dash).trim()} is after ${inner.slice(dash + 1).trim()}`;
  return { family: base.family, start: base.value + BigInt(a), end: base.value + BigInt(b) };
}

function parseItem(item: string): IpRange | string {
  const open = item.indexOf("[");
  if (open >= 0) return parseBracket(item, open);
  if (item.indexOf("/") >= 0) {
    const c = parseCidrOrReason(item);
    if (typeof c === "string") return c;
    // A pool lists addresses; a block with host bits set is almost always a typo for another block.
    if ((c.addr & hostMask(c.family, c.prefix)) !== 0n) {
      return "a block must be written as its network address";
    }
    const h = hostRange(c);
    return { family: c.family, start: h.start, end: h.end };
  }
  const ip = parseIpOrReason(item);
  if (typeof ip === "string") return ip;
  return { family: ip.family, start: ip.value, end: ip.value };
}

/** Sorts ranges (IPv4 first) and merges overlapping or adjacent ones. */
export function mergeRanges(ranges: IpRange[]): IpRange[] {
  const sorted = ranges.slice().sort((x, y) =>
    x.family !== y.family ? x.family - y.family : x.start < y.start ? -1 : x.start > y.start ? 1 : 0
  );
  const out: IpRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === r.family && r.start <= last.end + 1n) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ ...r });
  }
  return out;
}

/**
 * Parses a pool string. Never throws: malformed items land in `errors`, each naming the item and
 * its offset, and the valid items still count.
 */
export function parseRanges(s: string): ParsedRanges {
  const items: RangeItem[] = [];
  const errors: RangeItemError[] = [];
  if (s.trim().length === 0) return { ranges: [], items, errors };
  let pos = 0;
  while (pos <= s.length) {
    let comma = s.indexOf(",", pos);
    if (comma < 0) comma = s.length;
    const raw = s.slice(pos, comma);
    const lead = raw.length - raw.trimStart().length;
    const item = raw.trim();
    const index = pos + lead;
    if (item.length === 0) {
      errors.push({ item, index, message: "empty item (two commas in a row, or a comma at an end)" });
    } else {
      const r = parseItem(item);
      if (typeof r === "string") errors.push({ item, index, message: `pool item "${item}": ${r}` });
      else items.push({ item, index, range: r });
    }
    pos = comma + 1;
  }
  return { ranges: mergeRanges(items.map((i) => i.range)), items, errors };
}

/**
 * Keeps the parts of the ranges that are host addresses of `subnet`.
 *
 * The original silently dropped items outside the pod's subnet; we still drop them (a namespace's
 * pool legitimately spans several subnets) but return them so callers can warn.
 */
export function filterToSubnet(ranges: IpRange[], subnet: Cidr): { ranges: IpRange[]; skipped: IpRange[] } {
  const h = hostRange(subnet);
  const kept: IpRange[] = [];
  const skipped: IpRange[] = [];
  for (const r of ranges) {
    if (r.family !== subnet.family || r.end < h.start || r.start > h.end) {
      skipped.push(r);
      continue;
    }
    if (r.start < h.start) skipped.push({ family: r.family, start: r.start, end: h.start - 1n });
    if (r.end > h.end) skipped.push({ family: r.family, start: h.end + 1n, end: r.end });
    kept.push({
      family: r.family,
      start: r.start > h.start ? r.start : h.start,
      end: r.end < h.end ? r.end : h.end,
    });
  }
  return { ranges: kept, skipped };
}

/**
 * Yields every address of the ranges once, in order, lazily (a /64 pool is never materialised). With
 * `from` (a value of the ranges' family) it starts at the first address at or after it and wraps around
 * to the first range: the order in which host-local's allocator (containernetworking/plugins,
 * plugins/ipam/host-local/backend/allocator, RangeIter) tries candidates after the last reserved
 * address. The ranges must be sorted and merged, as parseRanges returns them.
 */
export function* iterateRanges(ranges: IpRange[], from = 0n): Generator<IpAddr> {
  if (ranges.length === 0) return;
  // Past the last range, the walk starts over at the first.
  const first = Math.max(0, ranges.findIndex((r) => r.end >= from));
  const start = ranges[first].start < from && ranges[first].end >= from ? from : undefined;
  for (let n = 0; n <= ranges.length; n++) {
    const i = (first + n) % ranges.length;
    const r = ranges[i];
    // The range the walk starts in is visited twice: from `from` first, then its head before `from`.
    const lo = n === 0 && start !== undefined ? start : r.start;
    const hi = n === ranges.length ? (start !== undefined ? start - 1n : -1n) : r.end;
    for (let v = lo; v <= hi; v++) yield { family: r.family, value: v };
  }
}

/** How many addresses the ranges hold (merge them first if they may overlap). */
export function countRanges(ranges: IpRange[]): bigint {
  let n = 0n;
  for (const r of ranges) n += r.end - r.start + 1n;
  return n;
}

/** True when `ip` is in the ranges; they must be sorted and merged, as parseRanges returns them. */
export function rangesContain(ranges: IpRange[], ip: IpAddr): boolean {
  let lo = 0, hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid];
    if (r.family < ip.family || (r.family === ip.family && r.end < ip.value)) lo = mid + 1;
    else if (r.family > ip.family || r.start > ip.value) hi = mid - 1;
    else return true;
  }
  return false;
}

/** Text for messages: "10.0.1.2-10.0.1.9", or one address. */
export function formatRange(r: IpRange): string {
  const a = formatIp({ family: r.family, value: r.start });
  return r.start === r.end ? a : `${a}-${formatIp({ family: r.family, value: r.end })}`;
}
