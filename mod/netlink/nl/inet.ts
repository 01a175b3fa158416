/**
 * Text <-> bytes for IPv4/IPv6 addresses, prefixes and MACs.
 *
 * Kept here rather than pulling in ipaddr.js: every plugin call pays for module loading, and
 * netlink needs only the byte forms.
 */

/** An address in wire form. */
export interface IpBytes {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** An address with a prefix length, as in "10.0.0.1/24". */
export interface Cidr extends IpBytes {
  prefixLen: number;
}

/** Thrown for text that is not an address, prefix or MAC; `value` is the offending text. */
export class AddressFormatError extends Error {
  constructor(readonly value: string, readonly expected: string) {
    super(`not ${expected}: ${JSON.stringify(value)}`);
    this.name = "AddressFormatError";
  }
}

function parse4(s: string): Uint8Array | undefined {
  // A hand-rolled scan: this runs for every address and route request, and split+regex cost more.
  const out = new Uint8Array(4);
  let part = 0, digits = 0, n = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) {
      n = n * 10 + c - 48;
      if (++digits > 3 || n > 255) return undefined;
    } else if (c === 46 && digits > 0 && part < 4) {
      out[part++] = n;
      n = 0;
      digits = 0;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

function parse6(s: string): Uint8Array | undefined {
  let text = s;
  const tail: number[] = [];
  // An embedded IPv4 tail ("::ffff:1.2.3.4") fills the last two groups.
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    const v4 = parse4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  for (const g of [...head, ...rest]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
  }
  const total = head.length + rest.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  words.push(...head.map((g) => parseInt(g, 16)));
  for (let i = total; i < 8; i++) words.push(0);
  words.push(...rest.map((g) => parseInt(g, 16)), ...tail);
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Parses "10.0.0.1" or "fd00::1". */
export function parseIp(s: string): IpBytes {
  const v4 = parse4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = s.includes(":") ? parse6(s) : undefined;
  if (v6) return { family: 6, bytes: v6 };
  throw new AddressFormatError(s, "an IP address");
}

/** Parses "10.0.0.1/24"; a bare address gets the full-length prefix. */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf("/");
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash));
  const max = ip.family === 4 ? 32 : 128;
  if (slash < 0) return { ...ip, prefixLen: max };
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new AddressFormatError(s, "an address/prefix");
  return { ...ip, prefixLen: Number(p) };
}

/** Formats 4 or 16 bytes the way iproute2 prints them (RFC 5952 for IPv6). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return b.join(".");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i] << 8) | b[i + 1]);
  // The longest run of two or more zero words becomes "::"; the first wins a tie.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  // Like glibc's inet_ntop: IPv4-compatible and IPv4-mapped addresses keep a dotted tail.
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    return `::${bestLen === 5 ? "ffff:" : ""}${b.subarray(12).join(".")}`;
  }
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** Parses "aa:bb:cc:dd:ee:ff". */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new AddressFormatError(s, "a MAC address");
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Formats hardware address bytes as lower-case colon-separated hex. */
export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}
