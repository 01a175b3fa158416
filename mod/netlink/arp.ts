/**
 * Gratuitous ARP: tells the segment which MAC now holds an IPv4 address, so neighbours and
 * switches update at once instead of after their caches expire.
 */
import { dv } from "./nl/codec.ts";
import { AF_PACKET } from "./nl/consts.ts";
import { parseIp, parseMac } from "./nl/inet.ts";
import { check, closeFd, libc, libcExtra } from "./nl/libc.ts";

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const ETH_P_ARP = 0x0806;
const ARPHRD_ETHER = 1;
/** The shortest Ethernet frame without its FCS; shorter ones are padded by the sender. */
const MIN_FRAME = 60;

/** How to announce. */
export interface GarpOptions {
  /** ARP request (the default, what arping -U sends) or reply (arping -A). */
  op?: "request" | "reply";
  /** How many frames to send; default 1. */
  count?: number;
}

/** The 42-byte Ethernet+ARP announcement, padded to the minimum frame size. */
export function garpFrame(mac: Uint8Array, ip: Uint8Array, op: "request" | "reply"): Uint8Array {
  const f = new Uint8Array(MIN_FRAME);
  const v = dv(f);
  f.fill(0xff, 0, 6);
  f.set(mac, 6);
  v.setUint16(12, ETH_P_ARP);
  v.setUint16(14, ARPHRD_ETHER);
  v.setUint16(16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  v.setUint16(20, op === "request" ? 1 : 2);
  f.set(mac, 22);
  f.set(ip, 28);
  // Target hardware address: zero in a request, broadcast in a reply; target IP is our own.
  if (op === "reply") f.fill(0xff, 32, 38);
  f.set(ip, 38);
  return f;
}

/**
 * Broadcasts a gratuitous ARP for `ip` from link `index` with hardware address `mac`, in the
 * current thread's namespace (use inside withNetns, or Handle.garp).
 *
 * @throws NetlinkError e.g. ENETDOWN when the link is down
 */
export function sendGratuitousArp(index: number, mac: string, ip: string, opts: GarpOptions = {}): void {
  const addr = parseIp(ip);
  if (addr.family !== 4) throw new TypeError(`gratuitous ARP is for IPv4, got ${ip}`);
  const frame = garpFrame(parseMac(mac), addr.bytes, opts.op ?? "request");
  const c = libc();
  const send = libcExtra().sendto;
  const op = `sending gratuitous ARP for ${ip}`;
  // Protocol 0: this socket only sends, so it must not queue every ARP frame it could receive.
  const fd = check(c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), op);
  try {
    const sll = new Uint8Array(20);
    const v = dv(sll);
    v.setUint16(0, AF_PACKET, true);
    v.setUint16(2, ETH_P_ARP);
    v.setInt32(4, index, true);
    v.setUint16(8, ARPHRD_ETHER, true);
    sll[11] = 6;
    sll.fill(0xff, 12, 18);
    for (let i = 0; i < (opts.count ?? 1); i++) {
      check(send(fd, frame, BigInt(frame.length), 0, sll, 20), op);
    }
  } finally {
    closeFd(fd);
  }
}
