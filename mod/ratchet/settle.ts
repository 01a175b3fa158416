/**
 * Making a pod's links, the part ADD and the child share. For each link: a registered peer on the
 * same node means one veth pair, made by whichever side wins the link's claim; a peer on another
 * node means a vxlan end on each side, with the link's VNI claimed once in the store. A peer not
 * registered yet leaves the link pending, for the child to finish.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { log } from "../cni/log.ts";
import { canonicalIp } from "../ip/mod.ts";
import { Handle } from "../netlink/mod.ts";
import type { Compare, Op, Store } from "../store/mod.ts";
import { MAX_VNI, type RatchetConf } from "./conf.ts";
import { type AttachRecord, type EndRecord, KEY, type LinkState, parseRecord } from "./keys.ts";
import { makeVeth, makeVxlan } from "./plumb.ts";
import { attachRecord, updateRecord } from "./register.ts";
import {
  type Declaration,
  declarationsOf,
  endKey,
  type EndRef,
  type PodLink,
  type PodRef,
  resolveLinks,
  topologyDeclaration,
} from "./resolve.ts";

/** A claim older than this belongs to a process that died mid-way; another side may take it over. */
export const CLAIM_TTL_MS = 30_000;
const ATTEMPTS = 20;

/** One pod's view while settling its links. */
export interface Settler {
  conf: RatchetConf;
  store: Store;
  self: PodRef;
  /** The pod's registration as written. */
  attach: AttachRecord;
  /** The node's namespace, where vxlan underlays live and links are created from; default: this thread's. */
  nodeNetns?: string;
}

/** A link end that exists in the pod, for the CNI result. */
export interface MadeEnd {
  link: PodLink;
  kind: "veth" | "vxlan";
  mac?: string;
  mtu?: number;
}

/** What one settle pass found and did. */
export interface SettleOutcome {
  links: PodLink[];
  made: MadeEnd[];
  pending: PodLink[];
  failed: { link: PodLink; error: Error }[];
  conflicts: string[];
}

/** Options of {@link settle}. */
export interface SettleOptions {
  /** How long to wait for a veth the peer's side is making before calling it pending. */
  claimWaitMs: number;
}

/** Handles opened on first use and closed together. */
class Handles {
  #node?: Handle;
  #pod?: Handle;
  constructor(readonly podPath: string, readonly nodePath?: string) {}
  node(): Handle {
    return this.#node ??= Handle.open(this.nodePath);
  }
  pod(): Handle {
    return this.#pod ??= Handle.open(this.podPath);
  }
  close(): void {
    this.#node?.close();
    this.#pod?.close();
  }
}

/** The links of the pod and its peers' registrations, from every declaration that mentions it. */
export async function gatherLinks(s: Settler): Promise<{
  links: PodLink[];
  conflicts: string[];
  peers: Map<string, AttachRecord | undefined>;
}> {
  const peers = new Map<string, AttachRecord | undefined>();
  const peer = async (namespace: string, pod: string) => {
    const k = `${namespace}/${pod}`;
    if (!peers.has(k)) peers.set(k, await attachRecord(s.store, { namespace, pod }));
    return peers.get(k);
  };
  const decls: Declaration[] = declarationsOf(s.self, s.attach.links);
  for (const kv of await s.store.list(KEY.links)) {
    let d: Declaration | undefined;
    try {
      d = topologyDeclaration(JSON.parse(kv.value));
    } catch {
      d = undefined;
    }
    if (d) decls.push(d);
    else log.warn("ignoring a malformed topology link record", { key: kv.key });
  }
  const index = KEY.peers(s.self.namespace, s.self.pod);
  for (const kv of await s.store.list(index)) {
    const [namespace, pod] = kv.key.slice(index.length).split("/");
    const rec = await peer(namespace, pod);
    if (rec) decls.push(...declarationsOf({ namespace, pod }, rec.links));
  }
  const { links, conflicts } = resolveLinks(s.self, decls);
  for (const l of links) await peer(l.remote.namespace, l.remote.pod);
  return { links, conflicts, peers };
}

/**
 * Makes every link of the pod whose peer is registered; safe to run again and from several
 * processes at once (claims in the store decide who makes what).
 */
export async function settle(s: Settler, opts: SettleOptions): Promise<SettleOutcome> {
  const { links, conflicts, peers } = await gatherLinks(s);
  const out: SettleOutcome = { links, made: [], pending: [], failed: [], conflicts };
  for (const c of conflicts) log.warn(c, { pod: `${s.self.namespace}/${s.self.pod}` });
  const h = new Handles(s.attach.netns, s.nodeNetns);
  try {
    for (const link of links) {
      const peer = peers.get(`${link.remote.namespace}/${link.remote.pod}`);
      if (!peer) {
        out.pending.push(link);
        continue;
      }
      try {
        const made = peer.node === s.attach.node
          ? await settleVeth(s, h, link, peer, opts.claimWaitMs)
          : await settleVxlan(s, h, link, peer);
        if (made) out.made.push(made);
        else out.pending.push(link);
      } catch (e) {
        log.error(`link ${link.id}: ${(e as Error).message}`);
        out.failed.push({ link, error: e as Error });
      }
    }
  } finally {
    h.close();
  }
  return out;
}

function endRecord(link: PodLink, end: EndRef, kind: EndRecord["kind"]): string {
  const rec: EndRecord = { link: link.id, end: endKey(end), kind };
  if (end.ip) rec.ip = end.ip;
  return JSON.stringify(rec);
}

/** One veth for the link: claimed in the store, made by the winner, waited for by the other side. */
async function settleVeth(
  s: Settler,
  h: Handles,
  link: PodLink,
  peer: AttachRecord,
  waitMs: number,
): Promise<MadeEnd | undefined> {
  const key = KEY.state(link.id);
  const mine = endKey(link.local), theirs = endKey(link.remote);
  const myId = s.attach.container_id, peerId = peer.container_id;
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const kv = await s.store.get(key);
    const st = parseRecord<LinkState>(kv);
    const current = st?.kind === "veth" && st.ends[mine]?.container_id === myId &&
      st.ends[theirs]?.container_id === peerId;
    if (current && st.status === "up") {
      const end = h.pod().linkByName(link.local.ifname);
      if (end?.kind === "veth") return { link, kind: "veth", mac: end.mac, mtu: end.mtu };
      // Recorded as made but gone from the pod: make it again.
    } else if (current && st.status === "claimed" && Date.now() - (st.at ?? 0) < CLAIM_TTL_MS) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await s.store.waitFor(key, (v) => v?.modRevision !== kv!.modRevision, left);
      continue;
    }
    const claimed: LinkState = {
      kind: "veth",
      status: "claimed",
      by: myId,
      at: Date.now(),
      ends: { [mine]: { container_id: myId }, [theirs]: { container_id: peerId } },
    };
    const claimedText = JSON.stringify(claimed);
    const ops: Op[] = [
      { put: key, value: claimedText },
      { put: KEY.end(myId, link.local.ifname), value: endRecord(link, link.local, "veth") },
      { put: KEY.end(peerId, link.remote.ifname), value: endRecord(link, link.remote, "veth") },
    ];
    // The link was a vxlan while the pods lived on different nodes; its VNI is free now.
    if (st?.vni !== undefined) ops.push({ delete: KEY.vni(st.vni) });
    if (!(await s.store.txn([kv ? { key, modRevision: kv.modRevision } : { key, exists: false }], ops))) {
      continue;
    }
    const release = () =>
      s.store.txn([{ key, value: claimedText }], [
        { delete: key },
        { delete: KEY.end(myId, link.local.ifname) },
        { delete: KEY.end(peerId, link.remote.ifname) },
      ]);
    let peerHandle: Handle;
    try {
      peerHandle = Handle.open(peer.netns);
    } catch (e) {
      // The peer's namespace is gone without a DEL yet; its next ADD makes the link.
      log.info(`link ${link.id}: peer namespace ${peer.netns} is gone`, { error: (e as Error).message });
      await release();
      return undefined;
    }
    try {
      const made = makeVeth(
        h.node(),
        { handle: h.pod(), ifname: link.local.ifname, ip: link.local.ip },
        { handle: peerHandle, ifname: link.remote.ifname, ip: link.remote.ip },
        link.mtu,
      );
      await s.store.txn([{ key, value: claimedText }], [{
        put: key,
        value: JSON.stringify({ ...claimed, status: "up" }),
      }]);
      log.info(`veth ${link.id} made`);
      return { link, kind: "veth", mac: made.a.mac, mtu: made.a.mtu };
    } catch (e) {
      await release().catch(() => false);
      throw e;
    } finally {
      peerHandle.close();
    }
  }
  throw new CniError(ErrorCode.TryAgainLater, `link ${link.id}: its store record kept changing`);
}

/** A VNI nobody holds, skipping `skip` free ones so that allocators who just collided spread out. */
async function freeVni(s: Settler, skip: number): Promise<number> {
  const used = new Set((await s.store.list(KEY.vnis)).map((v) => Number(v.key.slice(KEY.vnis.length))));
  let vni = s.conf.vniStart;
  while (used.has(vni) || skip-- > 0) vni++;
  while (used.has(vni)) vni++;
  if (vni > MAX_VNI) {
    throw new CniError(ErrorCode.PoolExhausted, `no free VNI from ${s.conf.vniStart} to ${MAX_VNI}`);
  }
  return vni;
}

/**
 * This pod's vxlan end of the link, towards the peer's node. The end is recorded in the link's
 * state before the kernel work, in the same transaction that claims the link's VNI when it has
 * none yet, so that a DEL of the peer meanwhile cannot free the VNI under it.
 */
async function settleVxlan(s: Settler, h: Handles, link: PodLink, peer: AttachRecord): Promise<MadeEnd> {
  if (!s.attach.parent_interface) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid network configuration: parent_interface is needed for link ${link.id}, whose peer is on node ${peer.node}`,
    );
  }
  if (!peer.parent_address) {
    throw new CniError(
      ErrorCode.NotFound,
      `link ${link.id}: node ${peer.node} registered no parent_address for vxlan`,
    );
  }
  const key = KEY.state(link.id);
  const mine = endKey(link.local), myId = s.attach.container_id;
  const remote = canonicalIp(peer.parent_address);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const kv = await s.store.get(key);
    const st = parseRecord<LinkState>(kv);
    const known = st?.kind === "vxlan" && st.vni !== undefined;
    const end = known ? st.ends[mine] : undefined;
    if (known && end?.container_id === myId && end.up && end.remote === remote) {
      const have = h.pod().linkByName(link.local.ifname);
      if (have?.kind === "vxlan" && have.vxlan?.id === st.vni) {
        return { link, kind: "vxlan", mac: have.mac, mtu: have.mtu };
      }
    }
    const vni = known
      ? st.vni!
      : await freeVni(s, attempt === 0 ? 0 : Math.floor(Math.random() * 4 * attempt));
    // A veth's ends (the pods shared a node before) went with the namespace that moved.
    const ends = known ? st.ends : {};
    const intent: LinkState = {
      kind: "vxlan",
      vni,
      ends: { ...ends, [mine]: { container_id: myId, remote, up: false } },
    };
    const ops: Op[] = [
      { put: key, value: JSON.stringify(intent) },
      { put: KEY.end(myId, link.local.ifname), value: endRecord(link, link.local, "vxlan") },
    ];
    if (!known) ops.push({ put: KEY.vni(vni), value: link.id });
    const compares: Compare[] = [kv ? { key, modRevision: kv.modRevision } : { key, exists: false }];
    if (!known) compares.push({ key: KEY.vni(vni), exists: false });
    if (!(await s.store.txn(compares, ops))) continue;
    const made = makeVxlan(h.node(), {
      handle: h.pod(),
      ifname: link.local.ifname,
      ip: link.local.ip,
      vni,
      remote,
      local: s.attach.parent_address,
      underlay: s.attach.parent_interface,
      mtu: link.mtu,
    });
    await updateRecord<LinkState>(s.store, key, (old) => {
      const e = old?.ends[mine];
      return old && e?.container_id === myId
        ? { ...old, ends: { ...old.ends, [mine]: { ...e, up: true } } }
        : old;
    });
    log.info(`vxlan ${link.id} end made`, { vni, remote });
    return { link, kind: "vxlan", mac: made.mac, mtu: made.mtu };
  }
  throw new CniError(ErrorCode.TryAgainLater, `link ${link.id}: its store record kept changing`);
}
