/**
 * A Handle bound to one network namespace: its netlink socket and the verbs on links,
 * addresses and routes there.
 */
import { type Addr, addrDumpMsg, addrMsg, type AddrOptions, parseAddr } from "./addr.ts";
import { type GarpOptions, sendGratuitousArp } from "./arp.ts";
import { isErrno, NetlinkError } from "./errors.ts";
import {
  type Link,
  linkAddMsg,
  type LinkChange,
  linkChangeMsg,
  linkDelMsg,
  linkGetMsg,
  type LinkRef,
  type LinkSpec,
  parseLink,
} from "./link.ts";
import { Netns } from "./netns.ts";
import type { MessageBuilder } from "./nl/codec.ts";
import { RTM_F_CLONED } from "./nl/consts.ts";
import { strerror } from "./nl/libc.ts";
import { type BatchItem, NetlinkSocket } from "./nl/socket.ts";
import {
  describeRoute,
  parseRoute,
  type Route,
  routeDumpMsg,
  routeFlags,
  routeMsg,
  type RouteSpec,
} from "./route.ts";
import { sysctlGet, sysctlSet } from "./sysctl.ts";

const ENODEV = 19;

/** Filters for {@link Handle.routeList}. */
export interface RouteFilter {
  /** Only routes out of this link. */
  dev?: LinkRef;
  family?: 4 | 6;
  /** Default: main (254); "all" for every table. */
  table?: number | "all";
}

/**
 * Netlink verbs in one namespace, over one reused socket. All calls are synchronous (a blocking
 * round trip to the kernel); awaiting them is harmless.
 *
 * Disposable: `using h = Handle.open(...)` closes it when the scope ends, however it ends.
 *
 * @example
 * using h = Handle.open("/run/netns/pod1");
 * h.linkSetUp("eth0");
 * h.addrAdd("eth0", "10.0.0.2/24");
 * h.routeAdd({ dst: "default", gw: "10.0.0.1" });
 */
export class Handle implements Disposable {
  #batch: BatchItem[] | undefined;
  #closed = false;

  private constructor(readonly netns: Netns, readonly sock: NetlinkSocket) {}

  /**
   * Opens a handle on the namespace at `netnsPath`, or on the calling thread's current one.
   *
   * @throws NetlinkError (ENOENT) when the path does not exist, NotNetnsError when it is not a netns
   */
  static open(netnsPath?: string): Handle {
    const ns = netnsPath === undefined ? Netns.current() : Netns.open(netnsPath);
    try {
      // The socket must be created inside: it stays bound to the namespace it was born in.
      const sock = netnsPath === undefined ? NetlinkSocket.open() : ns.run(() => NetlinkSocket.open());
      return new Handle(ns, sock);
    } catch (e) {
      ns.close();
      throw e;
    }
  }

  /** The namespace's fd, for IFLA_NET_NS_FD (LinkSpec.nsFd, linkSetNetnsFd). */
  get nsFd(): number {
    return this.netns.fd;
  }

  #exec(msg: MessageBuilder, op: string): void {
    if (this.#batch) this.#batch.push({ msg, op });
    else this.sock.request(msg, op);
  }

  /**
   * Collects the changes `fn` makes through this handle and sends them together, waiting for
   * every answer once. Lookups inside `fn` (by-name resolution, lists) still run at once, so a
   * change cannot refer by name to a link created earlier in the same batch; use ifindexes or
   * separate batches for that.
   *
   * @throws NetlinkError for the first change (in order) the kernel refused; the others were still applied
   */
  batch(fn: (h: this) => void): void {
    if (this.#batch) return fn(this);
    const items: BatchItem[] = (this.#batch = []);
    try {
      fn(this);
    } finally {
      this.#batch = undefined;
    }
    this.sock.batch(items);
  }

  /** Every link in the namespace. */
  linkList(): Link[] {
    return this.sock.dump(linkGetMsg(), "listing links").map(parseLink);
  }

  /** The link named `name`, or undefined when there is none. */
  linkByName(name: string): Link | undefined {
    return this.linkGet(name);
  }

  /** The link with ifindex `index`, or undefined when there is none. */
  linkByIndex(index: number): Link | undefined {
    return this.linkGet(index);
  }

  /** The link by name or ifindex, or undefined when there is none. */
  linkGet(ref: LinkRef): Link | undefined {
    try {
      const [m] = this.sock.request(linkGetMsg(ref), `getting link ${ref}`);
      return m ? parseLink(m) : undefined;
    } catch (e) {
      if (isErrno(e, "ENODEV")) return undefined;
      throw e;
    }
  }

  /** The link, or a NetlinkError ENODEV naming `op`. */
  #need(ref: LinkRef, op: string): Link {
    const link = this.linkGet(ref);
    if (!link) throw new NetlinkError(ENODEV, op, strerror(ENODEV), `no link ${ref}`);
    return link;
  }

  #index(ref: LinkRef, op: string): number {
    if (typeof ref === "number") return ref;
    const index = this.sock.indexOf(ref);
    if (!index) throw new NetlinkError(ENODEV, op, strerror(ENODEV), `no link ${ref}`);
    return index;
  }

  /**
   * Creates a link. Master and underlay names are looked up in this namespace even when
   * `spec.nsFd` puts the new link elsewhere. One kernel request: it is created whole or not at all.
   */
  linkAdd(spec: LinkSpec): void {
    const op = `creating ${spec.kind} ${spec.name}`;
    this.#exec(linkAddMsg(spec, (ref, what) => this.#need(ref, `${op}: finding ${what}`)), op);
  }

  /** Deletes a link (both ends, for a veth). */
  linkDel(ref: LinkRef): void {
    this.#exec(linkDelMsg(ref), `deleting link ${ref}`);
  }

  /** Applies several changes to a link in one request. */
  linkSet(ref: LinkRef, change: LinkChange, op = `changing link ${ref}`): void {
    const target = change.name !== undefined ? this.#index(ref, op) : ref;
    this.#exec(linkChangeMsg(target, change), op);
  }

  /** Brings a link up. */
  linkSetUp(ref: LinkRef): void {
    this.linkSet(ref, { up: true }, `setting link ${ref} up`);
  }

  /** Brings a link down. */
  linkSetDown(ref: LinkRef): void {
    this.linkSet(ref, { up: false }, `setting link ${ref} down`);
  }

  /**
   * Turns promiscuous mode on or off (IFF_PROMISC in an RTM_NEWLINK change, as `ip link set DEV
   * promisc on|off`). The kernel counts these requests with others (a bridge port, a packet
   * socket) in `promiscuity`; this sets or clears only ours.
   */
  linkSetPromisc(ref: LinkRef, on: boolean): void {
    this.linkSet(ref, { promisc: on }, `setting promisc ${on ? "on" : "off"} on link ${ref}`);
  }

  /** Sets a link's MTU. */
  linkSetMtu(ref: LinkRef, mtu: number): void {
    this.linkSet(ref, { mtu }, `setting mtu ${mtu} on link ${ref}`);
  }

  /** Sets a link's MAC address. */
  linkSetMac(ref: LinkRef, mac: string): void {
    this.linkSet(ref, { mac }, `setting mac ${mac} on link ${ref}`);
  }

  /** Renames a link (older kernels refuse while it is up: EBUSY). */
  linkRename(ref: LinkRef, newName: string): void {
    this.linkSet(ref, { name: newName }, `renaming link ${ref} to ${newName}`);
  }

  /** Moves a link into another namespace, given as an fd, a Netns or a Handle. */
  linkSetNetnsFd(ref: LinkRef, ns: number | Netns | Handle): void {
    const nsFd = typeof ns === "number" ? ns : ns instanceof Handle ? ns.nsFd : ns.fd;
    this.linkSet(ref, { nsFd }, `moving link ${ref} to another netns`);
  }

  /** Makes a link a port of `master` (a bridge), or frees it when `master` is undefined. */
  linkSetMaster(ref: LinkRef, master: LinkRef | undefined): void {
    const op = master === undefined
      ? `removing link ${ref} from its master`
      : `adding link ${ref} to ${master}`;
    const masterIndex = master === undefined ? 0 : this.#index(master, op);
    this.linkSet(ref, { masterIndex }, op);
  }

  /** Adds "address/prefix" to a link. */
  addrAdd(link: LinkRef, cidr: string, opts?: AddrOptions): void {
    const op = `adding address ${cidr} to ${link}`;
    this.#exec(addrMsg(true, this.#index(link, op), cidr, opts), op);
  }

  /** Removes "address/prefix" from a link (EADDRNOTAVAIL when it is not there). */
  addrDel(link: LinkRef, cidr: string): void {
    const op = `deleting address ${cidr} from ${link}`;
    this.#exec(addrMsg(false, this.#index(link, op), cidr), op);
  }

  /** Addresses of one link, or of every link; both families unless one is named. */
  addrList(link?: LinkRef, family?: 4 | 6): Addr[] {
    const index = link === undefined ? undefined : this.#index(link, `listing addresses of ${link}`);
    const out: Addr[] = [];
    for (const m of this.sock.dump(addrDumpMsg(family), "listing addresses")) {
      const a = parseAddr(m);
      if (a && (index === undefined || a.index === index)) out.push(a);
    }
    return out;
  }

  #route(kind: "add" | "replace" | "del", spec: RouteSpec, verb: string): void {
    const op = `${verb} route ${describeRoute(spec)}`;
    const oif = spec.dev === undefined ? undefined : this.#index(spec.dev, op);
    this.#exec(routeMsg(kind, spec, oif), op);
  }

  /** Adds a route; EEXIST when one with the same key exists. */
  routeAdd(spec: RouteSpec): void {
    this.#route("add", spec, "adding");
  }

  /** Adds a route or replaces the one with the same destination. */
  routeReplace(spec: RouteSpec): void {
    this.#route("replace", spec, "replacing");
  }

  /** Deletes a route; ESRCH when there is none that matches. */
  routeDel(spec: RouteSpec): void {
    this.#route("del", spec, "deleting");
  }

  /** Routes of the main table (or as filtered), with `dev` names filled in. Cache clones are left out. */
  routeList(filter: RouteFilter = {}): Route[] {
    const index = filter.dev === undefined
      ? undefined
      : this.#index(filter.dev, `listing routes of ${filter.dev}`);
    const table = filter.table ?? 254;
    const out: Route[] = [];
    for (const m of this.sock.dump(routeDumpMsg(filter.family), "listing routes")) {
      if (routeFlags(m) & RTM_F_CLONED) continue;
      const r = parseRoute(m);
      if (!r || (table !== "all" && r.table !== table)) continue;
      if (index !== undefined && r.oifIndex !== index) continue;
      out.push(r);
    }
    if (out.some((r) => r.oifIndex !== undefined)) {
      const names = new Map(this.linkList().map((l) => [l.index, l.name]));
      for (const r of out) if (r.oifIndex !== undefined) r.dev = names.get(r.oifIndex);
    }
    return out;
  }

  /** Runs a synchronous block inside this handle's namespace (see withNetns). */
  run<T>(fn: () => T): T {
    return this.netns.run(fn);
  }

  /** Writes a sysctl in this namespace, e.g. ("net.ipv4.conf.eth0.proxy_arp", 1). */
  sysctlSet(key: string, value: string | number): void {
    this.run(() => sysctlSet(key, value));
  }

  /** Reads a sysctl in this namespace. */
  sysctlGet(key: string): string {
    return this.run(() => sysctlGet(key));
  }

  /** Broadcasts a gratuitous ARP for `ip` out of `link` (which must be up). */
  garp(link: LinkRef, ip: string, opts?: GarpOptions): void {
    const l = this.#need(link, `sending gratuitous ARP for ${ip}`);
    if (!l.mac) throw new TypeError(`link ${link} has no MAC address`);
    this.run(() => sendGratuitousArp(l.index, l.mac!, ip, opts));
  }

  /** Closes the socket and the namespace fd; closing again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sock.close();
    this.netns.close();
  }

  /** For `using`: the same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
