/** CHECK's half of the links: is every end ADD (or the child) made still in the kernel as recorded? */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { Handle } from "../netlink/handle.ts";
import type { Store } from "../store/mod.ts";
import { canonicalIp } from "../ip/addr.ts";
import {
  type AttachRecord,
  type EndRecord,
  KEY,
  type LinkState,
  parseRecord,
  type WaitRecord,
} from "./keys.ts";
import { checkEnd } from "./plumb.ts";

/**
 * Fails on a link the waiter marked `failed` or `timed out`, then checks each made end of the container in `netns`: present, up, its kind, its address, and for a
 * vxlan its VNI and remote. Ends still being made (a peer not there yet) are skipped: that is
 * not a difference, only unfinished work. Returns the ends' interface names.
 *
 * @throws CniError code 105 naming the first difference
 */
export async function checkEnds(
  store: Store,
  containerId: string,
  netns: string,
  node: string,
): Promise<Set<string>> {
  // A link the node's waiter could not make (the kernel refused it, or it timed out) is a difference.
  const waiting = parseRecord<WaitRecord>(await store.get(KEY.wait(node, containerId)));
  for (const [id, t] of Object.entries(waiting?.links ?? {})) {
    throw new CniError(
      ErrorCode.CheckFailed,
      `CHECK: link ${id} ${t.status}`,
      `${t.reason}${t.errno ? ` (${t.errno})` : ""}`,
    );
  }
  const prefix = KEY.ends(containerId);
  const ends = await store.list(prefix);
  const names = new Set<string>();
  if (ends.length === 0) return names;
  const h = Handle.open(netns);
  try {
    for (const kv of ends) {
      const ifname = kv.key.slice(prefix.length);
      const rec = parseRecord<EndRecord>(kv);
      if (!rec) continue;
      names.add(ifname);
      const st = parseRecord<LinkState>(await store.get(KEY.state(rec.link)));
      const mine = st?.ends[rec.end];
      if (!st || mine?.container_id !== containerId) {
        throw new CniError(ErrorCode.CheckFailed, `CHECK: link ${rec.link} has no record of ${ifname}`);
      }
      if (st.kind === "veth" ? st.status !== "up" : !mine.up) continue;
      // No MAC comparison: a veth re-made after the peer came back has new MACs, and that is a repair.
      checkEnd(h, { ifname, kind: rec.kind, ip: rec.ip, vni: st.vni, remote: mine.remote });
      if (st.kind === "vxlan" && mine.remote) await checkPeerStayed(store, rec, mine.remote);
    }
  } finally {
    h.close();
  }
  return names;
}

/** A vxlan end points at the node its peer was on when it was made; the peer may have moved since. */
async function checkPeerStayed(store: Store, rec: EndRecord, remote: string): Promise<void> {
  // The link id is both ends' <ns>/<pod>/<ifname>, six slash-free segments.
  const parts = rec.link.split("/");
  const other = [parts.slice(0, 3), parts.slice(3, 6)].map((p) => p.join("/")).find((e) => e !== rec.end);
  if (!other) return;
  const [namespace, pod] = other.split("/");
  const peer = parseRecord<AttachRecord>(await store.get(KEY.attach(namespace, pod)));
  if (peer?.parent_address && canonicalIp(peer.parent_address) !== remote) {
    throw new CniError(
      ErrorCode.CheckFailed,
      `CHECK: the vxlan remote of ${rec.end.split("/")[2]} is stale`,
      `it points at ${remote}, but ${namespace}/${pod} is now on node ${peer.node} (${peer.parent_address})`,
    );
  }
}
