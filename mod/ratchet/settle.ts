/**
 * Making a pod's links, the part ADD and the child share. For each link: a registered peer on the
 * same node means one veth pair, made by whichever side wins the link's claim; a peer on another
 * node means a vxlan end on each side, with the link's VNI claimed once in the store. A peer not
 * registered yet leaves the link pending, for the child to finish.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { log } from "../cni/log.ts";
import { canonicalIp } from "../ip/addr.ts";
import { Handle } from "../netlink/handle.ts";
import type { Link } from "../netlink/link.ts";
import { NetlinkError } from "../netlink/errors.ts";
import type { Compare, Op, Store } from "../store/types.ts";
import { LOST_RACE, retryCas } from "../store/retry.ts";
import { MAX_VNI } from "./conf.ts";
import { type AttachRecord, type EndRecord, KEY, type LinkState, parseRecord } from "./keys.ts";
import { makeVeth, makeVxlan, nameTaken } from "./plumb.ts";
import { updateRecord } from "./register.ts";
import { releaseEnd } from "./release.ts";
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

/** One pod's view while settling its links. */
export interface Settler {
  /** The first VNI a new vxlan link may take (config `vni_start`). */
  vniStart: number;
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
  /** Made by this pass (false: it was there already), so that a failed ADD removes only its own. */
  created: boolean;
  /** vxlan: the peer's end is not up (yet, or no longer: the link moved VNI), so this side keeps watching. */
  following?: boolean;
}

/** What one settle pass found and did. */
export interface SettleOutcome {
  links: PodLink[];
  made: MadeEnd[];
  pending: PodLink[];
  /** vxlan links whose end here is made while the peer's is not up: the VNI may still move. */
  following: PodLink[];
  failed: { link: PodLink; error: Error }[];
  conflicts: string[];
  /** The pod's registration is no longer this container's (DEL, or a newer container): nothing was done. */
  gone?: boolean;
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

/** A registration and the revision it was read at, which claims compare. */
export interface Registered {
  rec: AttachRecord;
  revision: number;
}

async function registered(store: Store, pod: PodRef): Promise<Registered | undefined> {
  const kv = await store.get(KEY.attach(pod.namespace, pod.pod));
  const rec = parseRecord<AttachRecord>(kv);
  return rec && kv ? { rec, revision: kv.modRevision } : undefined;
}

/** The links of the pod and its peers' registrations, from every declaration that mentions it. */
export async function gatherLinks(s: Settler): Promise<{
  links: PodLink[];
  conflicts: string[];
  peers: Map<string, Registered | undefined>;
}> {
  const peers = new Map<string, Registered | undefined>();
  const peer = async (namespace: string, pod: string) => {
    const k = `${namespace}/${pod}`;
    if (!peers.has(k)) peers.set(k, await registered(s.store, { namespace, pod }));
    return peers.get(k)?.rec;
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
  const me = await registered(s.store, s.self);
  if (me?.rec.container_id !== s.attach.container_id) {
    return { links: [], made: [], pending: [], following: [], failed: [], conflicts: [], gone: true };
  }
  const { links, conflicts, peers } = await gatherLinks(s);
  const out: SettleOutcome = { links, made: [], pending: [], following: [], failed: [], conflicts };
  for (const c of conflicts) log.warn(c, { pod: `${s.self.namespace}/${s.self.pod}` });
  const h = new Handles(s.attach.netns, s.nodeNetns);
  try {
    for (const link of links) {
      const peer = peers.get(`${link.remote.namespace}/${link.remote.pod}`);
      try {
        await refuseTakenName(s, h, link);
        if (!peer) {
          out.pending.push(link);
          continue;
        }
        const made = peer.rec.node === s.attach.node
          ? await settleVeth(s, h, link, { me: me.revision, peer }, opts.claimWaitMs)
          : await settleVxlan(s, h, link, { me: me.revision, peer });
        if (made) out.made.push(made);
        if (!made) out.pending.push(link);
        else if (made.following) out.following.push(link);
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

/**
 * A link end's name that the pod already uses for an interface ratchet did not make for this link
 * (the boot network's eth0, say) fails the link at once, pending or not: it could never be made.
 *
 * @throws NetlinkError EEXIST (CNI code 101)
 */
async function refuseTakenName(s: Settler, h: Handles, link: PodLink): Promise<void> {
  const ifname = link.local.ifname;
  const have = h.pod().linkByName(ifname);
  if (have && !(await endIsOurs(s.store, s.attach.container_id, ifname, link.id))) throw nameTaken(have);
}

function endRecord(link: PodLink, end: EndRef, kind: EndRecord["kind"]): string {
  const rec: EndRecord = { link: link.id, end: endKey(end), kind };
  if (end.ip) rec.ip = end.ip;
  return JSON.stringify(rec);
}

/** The registrations a claim stands on: this pod's and the peer's, at the revisions read. */
interface Sides {
  me: number;
  peer: Registered;
}

/** True when the store records an end of `linkId` made for `containerId` under `ifname`. */
async function endIsOurs(
  store: Store,
  containerId: string,
  ifname: string,
  linkId: string,
): Promise<boolean> {
  return parseRecord<EndRecord>(await store.get(KEY.end(containerId, ifname)))?.link === linkId;
}

/** Deletes an interface this pass made, when the store no longer wants it (a DEL came meanwhile). */
function unmake(h: Handle, index: number): void {
  try {
    h.linkDel(index);
  } catch {
    // Gone already, with its namespace or its peer.
  }
}

/**
 * One veth for the link: claimed, made by the winner, waited for by the other side. The claim
 * compares both registrations, so a pod whose DEL began (its registration goes first) never gets
 * a new end; and the end is kept only when marking it up still finds the claim.
 */
async function settleVeth(
  s: Settler,
  h: Handles,
  link: PodLink,
  sides: Sides,
  waitMs: number,
): Promise<MadeEnd | undefined> {
  const key = KEY.state(link.id);
  const peer = sides.peer.rec;
  const mine = endKey(link.local), theirs = endKey(link.remote);
  const myId = s.attach.container_id, peerId = peer.container_id;
  const deadline = Date.now() + waitMs;
  return await retryCas(key, async () => {
    const kv = await s.store.get(key);
    const st = parseRecord<LinkState>(kv);
    const current = st?.kind === "veth" && st.ends[mine]?.container_id === myId &&
      st.ends[theirs]?.container_id === peerId;
    if (current && st.status === "up") {
      const end = h.pod().linkByName(link.local.ifname);
      if (end?.kind === "veth") return { link, kind: "veth", mac: end.mac, mtu: end.mtu, created: false };
      // Recorded as made but gone from the pod: make it again.
    } else if (current && st.status === "claimed" && Date.now() - (st.at ?? 0) < CLAIM_TTL_MS) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await s.store.waitFor(key, (v) => v?.modRevision !== kv!.modRevision, left);
      return LOST_RACE;
    }
    const [oursHere, oursThere] = await Promise.all([
      endIsOurs(s.store, myId, link.local.ifname, link.id),
      endIsOurs(s.store, peerId, link.remote.ifname, link.id),
    ]);
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
    const compares: Compare[] = [
      { key, modRevision: kv?.modRevision ?? 0 },
      { key: KEY.attach(s.self.namespace, s.self.pod), modRevision: sides.me },
      { key: KEY.attach(link.remote.namespace, link.remote.pod), modRevision: sides.peer.revision },
    ];
    if (!(await s.store.txn(compares, ops))) {
      if (await registrationsMoved(s, link, sides)) return undefined;
      return LOST_RACE;
    }
    // Only the records this claim added go; an end recorded before (a retried ADD's) stays.
    const release = () =>
      s.store.txn([{ key, value: claimedText }], [
        { delete: key },
        ...(oursHere ? [] : [{ delete: KEY.end(myId, link.local.ifname) }]),
        ...(oursThere ? [] : [{ delete: KEY.end(peerId, link.remote.ifname) }]),
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
        { handle: h.pod(), ifname: link.local.ifname, ip: link.local.ip, ours: oursHere },
        { handle: peerHandle, ifname: link.remote.ifname, ip: link.remote.ip, ours: oursThere },
        link.mtu,
      );
      const kept = await s.store.txn([{ key, value: claimedText }], [{
        put: key,
        value: JSON.stringify({ ...claimed, status: "up" }),
      }]);
      if (!kept) {
        // A DEL of either pod released the claim while the pair was being made: it is nobody's.
        unmake(h.pod(), made.a.index);
        log.info(`veth ${link.id} made, then dropped: a DEL released its claim meanwhile`);
        return undefined;
      }
      log.info(`veth ${link.id} made`);
      return { link, kind: "veth", mac: made.a.mac, mtu: made.a.mtu, created: true };
    } catch (e) {
      await release().catch(() => false);
      throw e;
    } finally {
      peerHandle.close();
    }
  });
}

/** True when either registration a claim stands on changed: the pass works from stale data. */
async function registrationsMoved(s: Settler, link: PodLink, sides: Sides): Promise<boolean> {
  const [me, peer] = await Promise.all([
    s.store.get(KEY.attach(s.self.namespace, s.self.pod)),
    s.store.get(KEY.attach(link.remote.namespace, link.remote.pod)),
  ]);
  return me?.modRevision !== sides.me || peer?.modRevision !== sides.peer.revision;
}

/**
 * A VNI nobody holds and no node refused for this link, skipping `skip` free ones so that allocators
 * who just collided spread out.
 *
 * @throws CniError 102 when none is left
 */
async function freeVni(s: Settler, skip: number, refused: number[] = []): Promise<number> {
  const used = new Set((await s.store.list(KEY.vnis)).map((v) => Number(v.key.slice(KEY.vnis.length))));
  for (const v of refused) used.add(v);
  let vni = s.vniStart;
  while (used.has(vni) || skip-- > 0) vni++;
  while (used.has(vni)) vni++;
  if (vni > MAX_VNI) {
    throw new CniError(ErrorCode.PoolExhausted, `no free VNI from ${s.vniStart} to ${MAX_VNI}`);
  }
  return vni;
}

/**
 * This pod's vxlan end of the link, towards the peer's node. The end is recorded in the link's
 * state before the kernel work, in the same transaction that claims the link's VNI when it has
 * none yet (and that compares this pod's registration, so a DEL under way gets no new end), so
 * that a DEL of the peer meanwhile cannot free the VNI under it.
 */
async function settleVxlan(
  s: Settler,
  h: Handles,
  link: PodLink,
  sides: Sides,
): Promise<MadeEnd | undefined> {
  const peer = sides.peer.rec;
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
  let moves = 0;
  return await retryCas(key, async (attempt) => {
    const kv = await s.store.get(key);
    const st = parseRecord<LinkState>(kv);
    const known = st?.kind === "vxlan" && st.vni !== undefined;
    const end = known ? st.ends[mine] : undefined;
    const theirs = st?.ends[endKey(link.remote)];
    const following = theirs?.container_id !== peer.container_id || !theirs.up;
    if (known && end?.container_id === myId && end.up && end.remote === remote) {
      const have = h.pod().linkByName(link.local.ifname);
      if (have?.kind === "vxlan" && have.vxlan?.id === st.vni) {
        return { link, kind: "vxlan", mac: have.mac, mtu: have.mtu, created: false, following };
      }
    }
    const ours = await endIsOurs(s.store, myId, link.local.ifname, link.id);
    const vni = known
      ? st.vni!
      : await freeVni(s, attempt === 0 ? 0 : Math.floor(Math.random() * 4 * attempt), st?.refused);
    // A veth's ends (the pods shared a node before) went with the namespace that moved.
    const ends = known ? st.ends : {};
    const intent: LinkState = {
      kind: "vxlan",
      vni,
      ends: { ...ends, [mine]: { container_id: myId, remote, up: false } },
    };
    if (st?.refused) intent.refused = st.refused;
    const ops: Op[] = [
      { put: key, value: JSON.stringify(intent) },
      { put: KEY.end(myId, link.local.ifname), value: endRecord(link, link.local, "vxlan") },
    ];
    if (!known) ops.push({ put: KEY.vni(vni), value: link.id });
    const compares: Compare[] = [
      { key, modRevision: kv?.modRevision ?? 0 },
      { key: KEY.attach(s.self.namespace, s.self.pod), modRevision: sides.me },
    ];
    if (!known) compares.push({ key: KEY.vni(vni), exists: false });
    if (!(await s.store.txn(compares, ops))) {
      if (await registrationsMoved(s, link, sides)) return undefined;
      return LOST_RACE;
    }
    let made: Link;
    try {
      made = makeVxlan(h.node(), {
        handle: h.pod(),
        ifname: link.local.ifname,
        ip: link.local.ip,
        ours,
        vni,
        remote,
        local: s.attach.parent_address,
        underlay: s.attach.parent_interface,
        mtu: link.mtu,
      });
    } catch (e) {
      // This node's kernel refuses the VNI (a vxlan not ours uses it): the link moves, both ends follow.
      const vniRefused = e instanceof NetlinkError && e.errno === "EEXIST" &&
        !h.pod().linkByName(link.local.ifname);
      if (vniRefused && moves++ < MAX_VNI_MOVES) {
        await moveVni(s, link, vni);
        return LOST_RACE;
      }
      // Nothing was made: the intent this pass recorded goes (a retried ADD's earlier end stays).
      if (!ours) await releaseEnd(s.store, myId, link.local.ifname, undefined).catch(() => {});
      throw e;
    }
    let kept = false;
    await updateRecord<LinkState>(s.store, key, (old) => {
      const e = old?.ends[mine];
      kept = !!old && e?.container_id === myId;
      return kept ? { ...old!, ends: { ...old!.ends, [mine]: { ...e!, up: true } } } : old;
    });
    if (!kept) {
      unmake(h.pod(), made.index);
      log.info(`vxlan ${link.id} end made, then dropped: a DEL released it meanwhile`);
      return undefined;
    }
    log.info(`vxlan ${link.id} end made`, { vni, remote });
    return { link, kind: "vxlan", mac: made.mac, mtu: made.mtu, created: true, following };
  });
}

/** How many VNIs one pass tries for a link before it reports the link failed. */
const MAX_VNI_MOVES = 8;

/**
 * Moves the link off `refused`, which this node's kernel would not take: a VNI free in the store and
 * refused by neither node so far, claimed in one transaction with the link's state, every end marked
 * not up so that the other side re-makes its end on the new VNI.
 *
 * @throws CniError 102 when no VNI is left
 */
async function moveVni(s: Settler, link: PodLink, refused: number): Promise<void> {
  const key = KEY.state(link.id);
  return await retryCas(key, async (attempt) => {
    const kv = await s.store.get(key);
    const st = parseRecord<LinkState>(kv);
    if (!kv || st?.kind !== "vxlan" || st.vni !== refused) return; // someone moved it already
    const avoid = [...new Set([...(st.refused ?? []), refused])];
    const vni = await freeVni(s, attempt === 0 ? 0 : Math.floor(Math.random() * 4 * attempt), avoid);
    const ends = Object.fromEntries(Object.entries(st.ends).map(([k, e]) => [k, { ...e, up: false }]));
    const next: LinkState = { ...st, vni, refused: avoid, ends };
    const ok = await s.store.txn(
      [{ key, modRevision: kv.modRevision }, { key: KEY.vni(vni), exists: false }],
      [{ put: key, value: JSON.stringify(next) }, { delete: KEY.vni(refused) }, {
        put: KEY.vni(vni),
        value: link.id,
      }],
    );
    if (ok) {
      log.warn(`link ${link.id}: the kernel refused VNI ${refused} (EEXIST); moved to VNI ${vni}`);
      return;
    }
    return LOST_RACE;
  });
}
