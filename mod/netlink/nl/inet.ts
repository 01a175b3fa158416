/**
 * Text <-> bytes for IPv4/IPv6 addresses, prefixes and MACs.
 *
 * Address text goes through mod/ip, which has no dependencies; this file adds the byte forms
 * netlink carries, prefixes and MACs.
 */
import { formatIp as formatAddress, ipFromBytes, ipToBytes, tryParseIp } from "../../ip/addr.ts";

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

/** Parses "10.0.0.1" or "fd00::1" into wire bytes, with mod/ip's parser (the one every role shares). */
export function parseIp(s: string): IpBytes {
  const ip = tryParseIp(s);
  if (!ip) throw new AddressFormatError(s, "an IP address");
  return { family: ip.family, bytes: ipToBytes(ip) };
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
  return formatAddress(ipFromBytes(b));
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
