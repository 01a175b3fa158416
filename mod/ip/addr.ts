/**
 * IP addresses as `{family, value}` with the value a bigint, so v4 and v6 share one arithmetic.
 *
 * The parser is hand-written rather than regex- or library-based: every plugin call imports it,
 * and the DSL linter runs it tens of thousands of times per file.
 */

/** An address family. */
export type Family = 4 | 6;

/** One IPv4 or IPv6 address. */
export interface IpAddr {
  family: Family;
  value: bigint;
}

/** Thrown for text that is not an address or CIDR; `input` is the text, `reason` says what is wrong. */
export class IpParseError extends Error {
  constructor(readonly input: string, readonly reason: string) {
    super(`invalid address "${input}": ${reason}`);
    this.name = "IpParseError";
  }
}

/** Thrown when arithmetic leaves the family's address space. */
export class IpRangeError extends Error {
  constructor(readonly family: Family, readonly result: bigint) {
    super(`result is outside the IPv${family} address space`);
    this.name = "IpRangeError";
  }
}

/** Bits per family. */
export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** The largest address of a family. */
export function maxOf(family: Family): bigint {
  return family === 4 ? 0xffffffffn : 0xffffffffffffffffffffffffffffffffn;
}

/** Reads dotted-quad IPv4 into a number, or returns a reason string. */
function parseV4(s: string, from: number, to: number): number | string {
  let value = 0;
  let parts = 0;
  let i = from;
  while (i <= to) {
    let n = 0;
    let digits = 0;
    while (i < to) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      digits++;
      i++;
    }
    // Leading zeros are read as decimal, not octal as inet_aton would: "10.0.1.000" is 10.0.1.0,
    // which is what anchor's pool strings in the wild mean.
    if (digits === 0) return "empty or non-numeric octet";
    if (digits > 3 || n > 255) return "octet out of range 0-255";
    value = value * 256 + n;
    parts++;
    if (i === to) break;
    if (s.charCodeAt(i) !== 46 /* . */) return `unexpected "${s[i]}"`;
    i++;
    if (i === to) return "trailing dot";
  }
  if (parts !== 4) return "expected four octets";
  return value;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Reads IPv6 (with `::` and an optional dotted IPv4 tail) into a bigint, or returns a reason string. */
function parseV6(s: string): bigint | string {
  const groups: number[] = [];
  let gap = -1;
  let i = 0;
  const n = s.length;
  if (n < 2) return "too short";
  if (s.charCodeAt(0) === 58 /* : */) {
    if (s.charCodeAt(1) !== 58) return "leading single colon";
    gap = 0;
    i = 2;
    if (i === n) return 0n;
  }
  while (i < n) {
    let v = 0;
    let digits = 0;
    const start = i;
    while (i < n) {
      const d = hexDigit(s.charCodeAt(i));
      if (d < 0) break;
      v = v * 16 + d;
      digits++;
      i++;
    }
    if (i < n && s.charCodeAt(i) === 46 /* . */) {
      const v4 = parseV4(s, start, n);
      if (typeof v4 === "string") return `embedded IPv4: ${v4}`;
      if (groups.length > 6) return "too many groups";
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      i = n;
      break;
    }
    if (digits === 0) return i < n ? `unexpected "${s[i]}"` : "trailing colon";
    if (digits > 4) return "group longer than four hex digits";
    groups.push(v);
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return `unexpected "${s[i]}"`;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return "more than one ::";
      gap = groups.length;
      i++;
      if (i === n) break;
    } else if (i === n) return "trailing colon";
  }
  if (gap < 0 && groups.length !== 8) return "expected eight groups";
  if (gap >= 0 && groups.length > 7) return "too many groups for ::";
  let value = 0n;
  const fill = 8 - groups.length;
  for (let g = 0; g < groups.length; g++) {
    if (g === gap) value <<= BigInt(16 * fill);
    value = (value << 16n) | BigInt(groups[g]);
  }
  if (gap === groups.length) value <<= BigInt(16 * fill);
  return value;
}

/**
 * Parses an address, or returns undefined; the fast path for callers that report their own errors.
 * Accepts dotted IPv4 and any RFC 4291 text form of IPv6; zones (`%eth0`) are not addresses here.
 */
export function tryParseIp(s: string): IpAddr | undefined {
  const r = parseIpOrReason(s);
  return typeof r === "string" ? undefined : r;
}

/** Parses an address or returns why not; shared by parseIp and the range grammar. */
export function parseIpOrReason(s: string): IpAddr | string {
  if (s.length === 0) return "empty";
  if (s.length > 45) return "too long";
  if (s.indexOf(":") >= 0) {
    const v = parseV6(s);
    return typeof v === "string" ? v : { family: 6, value: v };
  }
  const v = parseV4(s, 0, s.length);
  return typeof v === "string" ? v : { family: 4, value: BigInt(v) };
}

/**
 * Parses an IPv4 or IPv6 address.
 * @throws IpParseError naming the input and what is wrong with it.
 * @example parseIp("10.0.1.5") // {family: 4, value: 167772421n}
 */
export function parseIp(s: string): IpAddr {
  const r = parseIpOrReason(s);
  if (typeof r === "string") throw new IpParseError(s, r);
  return r;
}

function formatV4(v: bigint): string {
  const n = Number(v);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(v: bigint): string {
  const g: number[] = new Array(8);
  for (let i = 7; i >= 0; i--) {
    g[i] = Number(v & 0xffffn);
    v >>= 16n;
  }
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5), as iproute2 prints them.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
  }
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** Canonical text: dotted IPv4, RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIp(ip: IpAddr): string {
  return ip.family === 4 ? formatV4(ip.value) : formatV6(ip.value);
}

/** The canonical text of an address given as text. @throws IpParseError */
export function canonicalIp(s: string): string {
  return formatIp(parseIp(s));
}

/** Orders addresses: IPv4 before IPv6, then by value. Returns -1, 0 or 1. */
export function compareIp(a: IpAddr, b: IpAddr): number {
  if (a.family !== b.family) return a.family - b.family < 0 ? -1 : 1;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** True when both are the same address of the same family. */
export function ipEquals(a: IpAddr, b: IpAddr): boolean {
  return a.family === b.family && a.value === b.value;
}

/**
 * The address `offset` steps after `ip` (before, when negative).
 * @throws IpRangeError when the result leaves the family's space.
 */
export function addIp(ip: IpAddr, offset: bigint | number): IpAddr {
  const value = ip.value + BigInt(offset);
  if (value < 0n || value > maxOf(ip.family)) throw new IpRangeError(ip.family, value);
  return { family: ip.family, value };
}

/** Network-order bytes (4 or 16), the form netlink and sockets carry. */
export function ipToBytes(ip: IpAddr): Uint8Array {
  const out = new Uint8Array(ip.family === 4 ? 4 : 16);
  let v = ip.value;
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** An address from network-order bytes; 4 bytes are IPv4, 16 are IPv6. @throws IpParseError otherwise */
export function ipFromBytes(b: Uint8Array): IpAddr {
  if (b.length !== 4 && b.length !== 16) {
    throw new IpParseError(`${b.length} bytes`, "expected 4 or 16 bytes");
  }
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return { family: b.length === 4 ? 4 : 6, value: v };
}
