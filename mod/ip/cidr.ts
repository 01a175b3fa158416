/**
 * CIDR blocks: `addr/prefix` with the host part kept, so "10.0.1.5/24" (an interface address)
 * and "10.0.1.0/24" (a subnet) are both a Cidr and networkOf tells them apart.
 */
import { bitsOf, type Family, formatIp, type IpAddr, IpParseError, maxOf, parseIpOrReason } from "./addr.ts";

/** An address with a prefix length; `addr` may have host bits set. */
export interface Cidr {
  family: Family;
  addr: bigint;
  prefix: number;
}

/** Parses `addr/prefix`, or returns why not; the non-throwing core of parseCidr. */
export function parseCidrOrReason(s: string): Cidr | string {
  const slash = s.indexOf("/");
  if (slash < 0) return "missing /prefix";
  const ip = parseIpOrReason(s.slice(0, slash));
  if (typeof ip === "string") return ip;
  const p = s.slice(slash + 1);
  if (p.length === 0 || p.length > 3) return "bad prefix length";
  let prefix = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 48 || c > 57) return "bad prefix length";
    prefix = prefix * 10 + c - 48;
  }
  if (prefix > bitsOf(ip.family)) return `prefix longer than ${bitsOf(ip.family)}`;
  return { family: ip.family, addr: ip.value, prefix };
}

/**
 * Parses a CIDR; the host form ("10.0.1.5/24") is accepted and kept as written.
 * @throws IpParseError
 * @example networkOf(parseCidr("10.0.1.5/24")) // 10.0.1.0/24
 */
export function parseCidr(s: string): Cidr {
  const r = parseCidrOrReason(s);
  if (typeof r === "string") throw new IpParseError(s, r);
  return r;
}

/** Parses a CIDR or returns undefined. */
export function tryParseCidr(s: string): Cidr | undefined {
  const r = parseCidrOrReason(s);
  return typeof r === "string" ? undefined : r;
}

function asCidr(c: Cidr | string): Cidr {
  return typeof c === "string" ? parseCidr(c) : c;
}

const masks: Record<Family, bigint[]> = { 4: [], 6: [] };

/** The host mask of a prefix: the bits networkOf clears. */
export function hostMask(family: Family, prefix: number): bigint {
  // Cached: bigint shifts allocate, and the linter and the IPAM ask for the same few masks constantly.
  return masks[family][prefix] ??= (1n << BigInt(bitsOf(family) - prefix)) - 1n;
}

/** The network block: host bits cleared, same prefix. */
export function networkOf(c: Cidr | string): Cidr {
  const x = asCidr(c);
  return {
    family: x.family,
    addr: x.addr & (maxOf(x.family) ^ hostMask(x.family, x.prefix)),
    prefix: x.prefix,
  };
}

/** The last address of the block (the broadcast address for IPv4). */
export function broadcastOf(c: Cidr | string): IpAddr {
  const x = asCidr(c);
  return { family: x.family, value: x.addr | hostMask(x.family, x.prefix) };
}

/** The network address as an IpAddr. */
export function networkAddrOf(c: Cidr | string): IpAddr {
  const n = networkOf(c);
  return { family: n.family, value: n.addr };
}

/** The address part of a CIDR as an IpAddr (host bits kept). */
export function addrOf(c: Cidr): IpAddr {
  return { family: c.family, value: c.addr };
}

/**
 * The first and last usable host addresses.
 *
 * IPv4 drops the network and broadcast addresses except in /31 (RFC 3021) and /32. IPv6 drops the
 * all-zeros subnet-router anycast address (RFC 4291) except in /127 and /128; it has no broadcast.
 */
export function hostRange(c: Cidr | string): { start: bigint; end: bigint } {
  const x = networkOf(c);
  const last = x.addr | hostMask(x.family, x.prefix);
  const bits = bitsOf(x.family);
  if (x.prefix >= bits - 1) return { start: x.addr, end: last };
  if (x.family === 4) return { start: x.addr + 1n, end: last - 1n };
  return { start: x.addr + 1n, end: last };
}

/** True when `ip` lies inside the block `c`. A family mismatch is simply false. */
export function contains(c: Cidr | string, ip: IpAddr | string): boolean {
  const x = networkOf(c);
  const a = typeof ip === "string" ? parseIpOrReason(ip) : ip;
  if (typeof a === "string") throw new IpParseError(ip as string, a);
  return a.family === x.family && (a.value & (maxOf(x.family) ^ hostMask(x.family, x.prefix))) === x.addr;
}

/** True when both blocks are the same network: "10.0.1.7/24" and "10.0.1.000/24" are. */
export function sameNetwork(a: Cidr | string, b: Cidr | string): boolean {
  const x = networkOf(a), y = networkOf(b);
  return x.family === y.family && x.prefix === y.prefix && x.addr === y.addr;
}

/** True when the blocks share any address. */
export function overlaps(a: Cidr | string, b: Cidr | string): boolean {
  const x = asCidr(a), y = asCidr(b);
  if (x.family !== y.family) return false;
  const shorter = x.prefix <= y.prefix ? x : y;
  return contains(shorter, { family: y.family, value: (shorter === x ? y : x).addr });
}

/** Exact equality: same family, address (host bits included) and prefix, whatever the spelling. */
export function cidrEquals(a: Cidr | string, b: Cidr | string): boolean {
  const x = asCidr(a), y = asCidr(b);
  return x.family === y.family && x.prefix === y.prefix && x.addr === y.addr;
}

/** Canonical `addr/prefix` text (host bits kept; use networkOf first for the subnet's name). */
export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.addr })}/${c.prefix}`;
}

/** Canonical text of a CIDR given as text; `network` clears host bits first. @throws IpParseError */
export function canonicalCidr(s: string, network = false): string {
  const c = parseCidr(s);
  return formatCidr(network ? networkOf(c) : c);
}
