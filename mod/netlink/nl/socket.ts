/**
 * A NETLINK_ROUTE socket: send a request, read until its ACK or the end of its dump.
 *
 * The socket belongs to the namespace it was opened in, which is how a Handle addresses one.
 */
import { NetlinkError } from "../errors.ts";
import { dv, getStr, type MessageBuilder, type NlMessage, parseAttrs, parseMessages } from "./codec.ts";
import {
  AF_NETLINK,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  SOL_NETLINK,
} from "./consts.ts";
import { check, closeFd, lastErrno, libc, strerror } from "./libc.ts";

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
const SIOCGIFINDEX = 0x8933;
const ENODEV = 19;
const MSG_TRUNC = 0x20;
/** A dump answer never exceeds 32 KiB per datagram (the kernel caps it), so 64 KiB always fits. */
const RECV_BUF = 65536;
/** How long a reply may take before the call fails instead of hanging the plugin. */
const RECV_TIMEOUT_S = 30;
const DUMP_RETRIES = 5;

function intOpt(v: number): Uint8Array {
  const b = new Uint8Array(4);
  dv(b).setInt32(0, v, true);
  return b;
}

/** One request in a batch: the message and the words its error should carry. */
export interface BatchItem {
  msg: MessageBuilder;
  op: string;
}

/**
 * A route netlink socket with sequence numbers and ACK handling.
 *
 * @example
 * const s = NetlinkSocket.open();
 * const replies = s.dump(new MessageBuilder(RTM_GETLINK, 0).ifinfo(0, 0, 0), "listing links");
 */
export class NetlinkSocket {
  #seq = Math.floor(Math.random() * 0x7fffffff);
  #buf = new Uint8Array(RECV_BUF);

  private constructor(readonly fd: number) {}

  /** Opens a socket in the calling thread's current network namespace. */
  static open(): NetlinkSocket {
    const c = libc();
    const fd = check(c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "opening netlink socket");
    try {
      // Ask for the kernel's explanation text and for the request body not to be echoed back.
      c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, intOpt(1), 4);
      c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, intOpt(1), 4);
      // Room for a large batch of requests and their ACKs.
      c.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, intOpt(1 << 20), 4);
      // FORCE passes net.core.rmem_max when we are root (plugins are); otherwise take the capped size.
      if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, intOpt(1 << 20), 4) < 0) {
        c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, intOpt(1 << 20), 4);
      }
      const tv = new Uint8Array(16);
      dv(tv).setBigInt64(0, BigInt(RECV_TIMEOUT_S), true);
      c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
      // No bind: the kernel assigns the port id on the first send (autobind).
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return new NetlinkSocket(fd);
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    return this.#seq;
  }

  #send(bytes: Uint8Array, op: string): void {
    check(libc().send(this.fd, bytes, BigInt(bytes.length), 0), op);
  }

  #recv(op: string): NlMessage[] {
    const n = check(libc().recv(this.fd, this.#buf, BigInt(this.#buf.length), MSG_TRUNC), op);
    if (n > this.#buf.length) throw new NetlinkError(90, op, `reply of ${n} bytes truncated`);
    return parseMessages(this.#buf, n);
  }

  /**
   * Sends a request that changes or gets one object and waits for its ACK.
   *
   * @returns copies of the reply messages that came before the ACK (for a GET: the object)
   * @throws NetlinkError when the kernel answers with an error
   */
  request(msg: MessageBuilder, op: string): NlMessage[] {
    const seq = this.#nextSeq();
    this.#send(msg.finish(seq, NLM_F_REQUEST | NLM_F_ACK), op);
    const out: NlMessage[] = [];
    for (;;) {
      for (const m of this.#recv(op)) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const err = errorOf(m, op);
          if (err) throw err;
          return out;
        }
        out.push({ ...m, data: m.data.slice() });
      }
    }
  }

  /**
   * Sends a dump request and collects every part until NLMSG_DONE.
   *
   * A dump the kernel marks interrupted (the table changed under it) is started again.
   */
  dump(msg: MessageBuilder, op: string): NlMessage[] {
    for (let attempt = 0;; attempt++) {
      const seq = this.#nextSeq();
      this.#send(msg.finish(seq, NLM_F_REQUEST | NLM_F_DUMP), op);
      const out: NlMessage[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        for (const m of this.#recv(op)) {
          if (m.seq !== seq) continue;
          if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) {
            const err = m.data.length >= 4 && dv(m.data).getInt32(0, true) < 0 ? errorOf(m, op) : undefined;
            if (err) throw err;
            done = true;
            break;
          }
          out.push({ ...m, data: m.data.slice() });
        }
      }
      if (!interrupted || attempt >= DUMP_RETRIES) return out;
    }
  }

  /**
   * Sends many change requests in as few datagrams as fit and waits for every ACK.
   *
   * The kernel handles each message on its own, so one failure does not stop the rest; the
   * first failure in order is thrown after all answers are in.
   */
  batch(items: BatchItem[]): void {
    // Datagrams stay well below the send buffer, and the requests in flight below what the
    // receive buffer holds of ACKs.
    const MAX_BYTES = 64 * 1024;
    const MAX_IN_FLIGHT = 128;
    const pending = new Map<number, { op: string; index: number }>();
    let first: { index: number; err: NetlinkError } | undefined;
    let chunk: Uint8Array[] = [];
    let size = 0;

    const flushAndWait = () => {
      if (chunk.length) {
        const all = new Uint8Array(size);
        let off = 0;
        for (const c of chunk) {
          all.set(c, off);
          off += c.length;
        }
        this.#send(all, pending.values().next().value!.op);
        chunk = [];
        size = 0;
      }
      while (pending.size) {
        for (const m of this.#recv("reading batch replies")) {
          const p = pending.get(m.seq);
          if (!p || m.type !== NLMSG_ERROR) continue;
          pending.delete(m.seq);
          const err = errorOf(m, p.op);
          if (err && (!first || p.index < first.index)) first = { index: p.index, err };
        }
      }
    };

    items.forEach((item, index) => {
      const seq = this.#nextSeq();
      const bytes = item.msg.finish(seq, NLM_F_REQUEST | NLM_F_ACK).slice();
      if (size + bytes.length > MAX_BYTES || pending.size >= MAX_IN_FLIGHT) flushAndWait();
      chunk.push(bytes);
      size += bytes.length;
      pending.set(seq, { op: item.op, index });
    });
    flushAndWait();
    if (first) throw first.err;
  }

  /**
   * The ifindex of the link named `name` in the socket's namespace, or 0 when there is none.
   *
   * SIOCGIFINDEX on this socket resolves in the namespace the socket belongs to, and costs a
   * fraction of an RTM_GETLINK round trip (no message to build, copy and parse).
   */
  indexOf(name: string): number {
    const raw = new TextEncoder().encode(name);
    if (raw.length > 15) return 0;
    const ifr = new Uint8Array(40);
    ifr.set(raw);
    if (libc().ioctlPtr(this.fd, BigInt(SIOCGIFINDEX), ifr) < 0) {
      const n = lastErrno();
      if (n === ENODEV) return 0;
      throw new NetlinkError(n, `looking up link ${name}`, strerror(n));
    }
    return dv(ifr).getInt32(16, true);
  }

  /** Closes the socket. */
  close(): void {
    closeFd(this.fd);
  }
}

/** The NetlinkError an NLMSG_ERROR (or a failed NLMSG_DONE) carries, or undefined for an ACK. */
function errorOf(m: NlMessage, op: string): NetlinkError | undefined {
  if (m.data.length < 4) return undefined;
  const code = -dv(m.data).getInt32(0, true);
  if (code <= 0) return undefined;
  let text: string | undefined;
  if (m.type === NLMSG_ERROR && m.flags & NLM_F_ACK_TLVS && m.data.length >= 4 + NLMSG_HDRLEN) {
    // The echoed request follows the error code: its header only when capped, else all of it.
    const echoedLen = m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : dv(m.data).getUint32(4, true);
    text = getStr(parseAttrs(m.data, 4 + ((echoedLen + 3) & ~3)).get(NLMSGERR_ATTR_MSG));
  }
  return new NetlinkError(code, op, strerror(code), text || undefined);
}
