/**
 * The netlink wire format: nlmsghdr, rtattr/nlattr TLVs with 4-byte alignment, nested attributes.
 *
 * Host byte order is assumed little-endian (x86_64, arm64): netlink uses host order, and the few
 * big-endian fields (ports) say so in their names.
 */
import { AF_INET, AF_INET6, NLMSG_HDRLEN } from "./consts.ts";

/** Rounds up to netlink's 4-byte alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Builds one netlink message in a growable buffer: header, fixed struct, then attributes.
 *
 * @example
 * const b = new MessageBuilder(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
 * b.ifinfo(0, 0, 0);
 * b.str(IFLA_IFNAME, "br0");
 */
export class MessageBuilder {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = NLMSG_HDRLEN;

  constructor(readonly type: number, readonly flags: number) {}

  #reserve(n: number): number {
    const at = this.#len;
    const need = at + align4(n);
    if (need > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2));
      bigger.set(this.#buf.subarray(0, this.#len));
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    }
    this.#len = need;
    return at;
  }

  /** Appends raw bytes padded to alignment (a fixed struct such as ifaddrmsg). */
  bytes(b: Uint8Array): this {
    this.#buf.set(b, this.#reserve(b.length));
    return this;
  }

  /** struct ifinfomsg: family, type, index, flags, change. */
  ifinfo(index: number, flags: number, change: number, family = 0): this {
    const at = this.#reserve(16);
    this.#view.setUint8(at, family);
    this.#view.setInt32(at + 4, index, true);
    this.#view.setUint32(at + 8, flags, true);
    this.#view.setUint32(at + 12, change, true);
    return this;
  }

  // Scalars and strings are written in place: a temporary Uint8Array per attribute (each its
  // own ArrayBuffer) used to cost more than the syscall.
  #header(type: number, payload: number): number {
    const at = this.#reserve(4 + payload);
    this.#view.setUint16(at, 4 + payload, true);
    this.#view.setUint16(at + 2, type, true);
    return at + 4;
  }

  /** An attribute whose payload is `data`. */
  attr(type: number, data: Uint8Array): this {
    this.#buf.set(data, this.#header(type, data.length));
    return this;
  }

  /** A NUL-terminated string attribute. */
  str(type: number, s: string): this {
    const at = this.#reserve(4 + s.length * 3 + 1);
    const { written } = encoder.encodeInto(s, this.#buf.subarray(at + 4, at + 4 + s.length * 3));
    this.#buf[at + 4 + written] = 0;
    this.#len = at + align4(4 + written + 1);
    this.#view.setUint16(at, 4 + written + 1, true);
    this.#view.setUint16(at + 2, type, true);
    return this;
  }

  u8(type: number, v: number): this {
    this.#view.setUint8(this.#header(type, 1), v);
    return this;
  }

  u16be(type: number, v: number): this {
    this.#view.setUint16(this.#header(type, 2), v, false);
    return this;
  }

  u32(type: number, v: number): this {
    this.#view.setUint32(this.#header(type, 4), v >>> 0, true);
    return this;
  }

  /** Opens a nested attribute; pass the result to {@link end}. */
  nest(type: number): number {
    const at = this.#reserve(4);
    this.#view.setUint16(at + 2, type, true);
    return at;
  }

  /** Closes a nested attribute opened by {@link nest}, fixing its length. */
  end(at: number): this {
    this.#view.setUint16(at, this.#len - at, true);
    return this;
  }

  /** The finished message with its header filled in. */
  finish(seq: number, extraFlags = 0): Uint8Array {
    this.#view.setUint32(0, this.#len, true);
    this.#view.setUint16(4, this.type, true);
    this.#view.setUint16(6, this.flags | extraFlags, true);
    this.#view.setUint32(8, seq, true);
    this.#view.setUint32(12, 0, true);
    return this.#buf.subarray(0, this.#len);
  }
}

/** One received netlink message; `data` is the payload after the 16-byte header. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  data: Uint8Array;
}

/** Splits a received datagram into messages. The payloads are views into `buf`. */
export function parseMessages(buf: Uint8Array, len: number): NlMessage[] {
  const view = new DataView(buf.buffer, buf.byteOffset, len);
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= len) {
    const mlen = view.getUint32(off, true);
    if (mlen < NLMSG_HDRLEN || off + mlen > len) break;
    out.push({
      type: view.getUint16(off + 4, true),
      flags: view.getUint16(off + 6, true),
      seq: view.getUint32(off + 8, true),
      data: buf.subarray(off + NLMSG_HDRLEN, off + mlen),
    });
    off += align4(mlen);
  }
  return out;
}

/** Attributes by type (the nested/byte-order bits masked off); later duplicates win. */
export type Attrs = Map<number, Uint8Array>;

/** Parses the TLVs of `buf` starting at `start` (the length of the fixed struct before them). */
export function parseAttrs(buf: Uint8Array, start = 0): Attrs {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const out: Attrs = new Map();
  let off = start;
  while (off + 4 <= buf.length) {
    const alen = view.getUint16(off, true);
    if (alen < 4 || off + alen > buf.length) break;
    out.set(view.getUint16(off + 2, true) & 0x3fff, buf.subarray(off + 4, off + alen));
    off += align4(alen);
  }
  return out;
}

/** A little-endian view over a payload, for reading fixed structs and scalar attributes. */
export function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.length);
}

export function getU8(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 1 ? a[0] : undefined;
}

export function getU16be(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 2 ? (a[0] << 8) | a[1] : undefined;
}

export function getU32(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 4 ? dv(a).getUint32(0, true) : undefined;
}

export function getI32(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 4 ? dv(a).getInt32(0, true) : undefined;
}

/** A string attribute without its trailing NUL. */
export function getStr(a: Uint8Array | undefined): string | undefined {
  if (!a) return undefined;
  const nul = a.indexOf(0);
  return decoder.decode(nul >= 0 ? a.subarray(0, nul) : a);
}

/** AF_INET/AF_INET6 for 4/6, AF_UNSPEC (0) for undefined. */
export function afOf(family?: 4 | 6): number {
  return family === 4 ? AF_INET : family === 6 ? AF_INET6 : 0;
}

/** 4/6 for AF_INET/AF_INET6, undefined for any other address family. */
export function familyOfAf(af: number): 4 | 6 | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/**
 * A dump request whose fixed struct (`headerLen` bytes) starts with the family byte, as
 * ifaddrmsg and rtmsg do.
 */
export function familyDumpMsg(type: number, headerLen: number, family?: 4 | 6): MessageBuilder {
  const head = new Uint8Array(headerLen);
  head[0] = afOf(family);
  return new MessageBuilder(type, 0).bytes(head);
}
