/**
 * What the API shows of ratchet's links: each record `ratchet apply` wrote, the nodes its pods are on,
 * and the plumbing state the ratchet plugin keeps for it, as stored. Whether a link "works" is left to
 * a later derivation from that state.
 */
import { KEY, type LinkState, parseRecord } from "../ratchet/keys.ts";
import type { KeyValue } from "../store/mod.ts";

/** Everything ratchet keeps; one `list` of it is a consistent snapshot. */
export const RATCHET_PREFIX = "/ratchet/";

/** A link end as `ratchet apply` writes it, plus where its pod is. */
export interface LinkEndView {
  namespace: string;
  pod: string;
  ifname: string;
  ip?: string;
  /** The pod's node: where it registered at run time, else where `ratchet apply` placed it. */
  node?: string;
  /** True when the pod has registered with the plugin (`/ratchet/attach/<ns>/<pod>` exists). */
  attached: boolean;
}

/** A link record and the plugin's state for it. */
export interface LinkView {
  id: string;
  a?: LinkEndView;
  b?: LinkEndView;
  mtu?: number;
  revision: number;
  /** `/ratchet/state/<id>` as the plugin wrote it (kind, vni, status, ends), absent before any pod arrived. */
  state?: LinkState;
  problems: string[];
}

/** The links of a listing of /ratchet/. A record that is not the expected JSON is listed with its problem. */
export function linkViews(keys: KeyValue[]): LinkView[] {
  const byKey = new Map(keys.map((kv) => [kv.key, kv]));
  const views: LinkView[] = [];
  for (const kv of keys) {
    if (!kv.key.startsWith(KEY.links)) continue;
    const id = kv.key.slice(KEY.links.length);
    const view: LinkView = { id, revision: kv.modRevision, problems: [] };
    readLinkRecord(kv.value, view, byKey);
    const state = byKey.get(KEY.state(id));
    if (state) {
      view.state = parseRecord<LinkState>(state);
      if (!view.state) view.problems.push(`${KEY.state(id)} is not a JSON object`);
    }
    views.push(view);
  }
  return views;
}

function readLinkRecord(value: string, view: LinkView, byKey: Map<string, KeyValue>): void {
  const record = parseRecord<Record<string, any>>({ value });
  if (!record) {
    view.problems.push("the link record is not a JSON object");
    return;
  }
  for (const side of ["a", "b"] as const) {
    const end = record[side];
    if (typeof end !== "object" || end === null) {
      view.problems.push(`end "${side}" is missing`);
      continue;
    }
    const text = (field: string) => (typeof end[field] === "string" ? end[field] as string : "");
    const [namespace, pod] = [text("namespace"), text("pod")];
    const attach = parseRecord<{ node?: unknown }>(byKey.get(KEY.attach(namespace, pod)));
    const planned = parseRecord<{ node?: unknown }>(byKey.get(KEY.pod(namespace, pod)));
    const node = [attach?.node, planned?.node].find((n) => typeof n === "string") as string | undefined;
    view[side] = {
      namespace,
      pod,
      ifname: text("ifname"),
      ...(text("ip") && { ip: text("ip") }),
      ...(node && { node }),
      attached: attach !== undefined,
    };
  }
  if (typeof record.mtu === "number") view.mtu = record.mtu;
}
