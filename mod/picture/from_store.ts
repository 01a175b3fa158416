/**
 * The picture of what the store holds: `ratchet apply`'s nodes, pods and links, placed where the pods
 * registered at run time, each link with its state (mod/ratchet/link_view.ts says how a state word is
 * found). Reads one listing of /ratchet/, which is a consistent snapshot.
 */
import type { KeyValue } from "../store/mod.ts";
import { KEYS } from "../../dsl/render_store.ts";
import { KEY, parseRecord } from "../ratchet/keys.ts";
import { type LinkView, linkViews, RATCHET_PREFIX } from "../ratchet/link_view.ts";
import { kindByPlacement, type Picture, type PictureLink, type PicturePod } from "./model.ts";

/** What to list for storePicture and withStoreStates. */
export { RATCHET_PREFIX };

/** `/ratchet/attach/`: the builder with empty segments, less the separator they leave. */
const ATTACH_PREFIX = KEY.attach("", "").slice(0, -1);

/** The picture of a listing of /ratchet/ (all of it: nodes, pods, attach, links and state). */
export function storePicture(keys: KeyValue[]): Picture {
  const picture: Picture = { nodes: [], pods: [], links: [] };
  const pods = new Map<string, PicturePod>();
  const attached = new Map<string, string>();
  for (const kv of keys) {
    if (kv.key === KEYS.cluster) picture.title = kv.value;
    else if (kv.key.startsWith(KEYS.nodes)) {
      const rec = parseRecord<{ parent_interface?: unknown; parent_address?: unknown }>(kv) ?? {};
      picture.nodes.push({
        name: kv.key.slice(KEYS.nodes.length),
        ...(typeof rec.parent_interface === "string" && { parent: rec.parent_interface }),
        ...(typeof rec.parent_address === "string" && rec.parent_address && { address: rec.parent_address }),
      });
    } else if (kv.key.startsWith(ATTACH_PREFIX)) {
      const node = parseRecord<{ node?: unknown }>(kv)?.node;
      if (typeof node === "string") attached.set(kv.key.slice(ATTACH_PREFIX.length), node);
    }
  }
  const addPod = (namespace: string, name: string, node: string | undefined) => {
    const id = `${namespace}/${name}`;
    const known = pods.get(id);
    if (known) {
      known.node ??= node;
      return known;
    }
    const pod: PicturePod = { id, name, namespace, node: attached.get(id) ?? node };
    pods.set(id, pod);
    return pod;
  };
  for (const kv of keys) {
    if (!kv.key.startsWith(KEYS.pods)) continue;
    const [namespace, name] = kv.key.slice(KEYS.pods.length).split("/");
    const node = parseRecord<{ node?: unknown }>(kv)?.node;
    if (namespace && name) addPod(namespace, name, typeof node === "string" ? node : undefined);
  }
  for (const v of linkViews(keys)) {
    if (!v.a || !v.b) continue; // a record without both ends has nothing to draw; monkey's table lists it
    const [a, b] = [addPod(v.a.namespace, v.a.pod, v.a.node), addPod(v.b.namespace, v.b.pod, v.b.node)];
    picture.links.push(viewLink(v, a, b));
  }
  picture.pods = [...pods.values()];
  return picture;
}

function viewLink(v: LinkView, a: PicturePod, b: PicturePod): PictureLink {
  const link: PictureLink = {
    id: v.id,
    a: { pod: a.id, ifname: v.a!.ifname, ...(v.a!.ip && { ip: v.a!.ip }) },
    b: { pod: b.id, ifname: v.b!.ifname, ...(v.b!.ip && { ip: v.b!.ip }) },
    kind: v.state?.kind ?? kindByPlacement(a.node, b.node),
    condition: v.condition,
  };
  if (v.state?.vni !== undefined) link.vni = v.state.vni;
  if (v.mtu !== undefined) link.mtu = v.mtu;
  if (v.problems.length) link.problems = v.problems;
  if (v.trouble) link.reason = troubleText(v);
  return link;
}

/** Gives a picture drawn from a file the states the store holds for its links, matched by link id. */
export function withStoreStates(picture: Picture, keys: KeyValue[]): Picture {
  const views = new Map(linkViews(keys).map((v) => [v.id, v]));
  return {
    ...picture,
    links: picture.links.map((l) => {
      const v = views.get(l.id);
      // A link the store does not have yet has not been applied: nothing of it is made.
      if (!v) return { ...l, condition: "pending" };
      const out: PictureLink = { ...l, kind: v.state?.kind ?? l.kind, condition: v.condition };
      if (v.state?.vni !== undefined) out.vni = v.state.vni;
      if (v.problems.length) out.problems = v.problems;
      if (v.trouble) out.reason = troubleText(v);
      return out;
    }),
  };
}

function troubleText(v: LinkView): string {
  return `${v.trouble!.errno ? `${v.trouble!.errno}: ` : ""}${v.trouble!.reason}`;
}
