/**
 * Ratchet's links as people see them (`ratchet status`, monkey's /api/links): each record
 * `ratchet apply` wrote, the nodes its pods are on, the plumbing state the plugin keeps for it, and
 * that state in one word.
 */
import { KEY, type LinkState, type LinkTrouble, parseRecord, type WaitRecord } from "./keys.ts";
import { linkId } from "./resolve.ts";
import type { KeyValue } from "../store/mod.ts";

/** Everything ratchet keeps; one `list` of it is a consistent snapshot. */
export const RATCHET_PREFIX = KEY.all;

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
  /** The plugin's state for the link (kind, vni, status, ends), absent before any of its pods arrived. */
  state?: LinkState;
  /**
   * up: every end is made; partial: one vxlan end is; pending: none yet (or a veth still being
   * claimed); failed: the kernel refused it (retried); timed out: not up by `child_timeout_s`.
   */
  condition: "up" | "partial" | "pending" | "failed" | "timed out";
  /** Why a failed or timed-out link is not up, from the waiter's record. */
  trouble?: LinkTrouble;
  problems: string[];
}

/** The links of a listing of /ratchet/. A record that is not the expected JSON is listed with its problem. */
export function linkViews(keys: KeyValue[]): LinkView[] {
  const byKey = new Map(keys.map((kv) => [kv.key, kv]));
  const troubles = new Map<string, LinkTrouble>();
  for (const kv of keys) {
    if (!kv.key.startsWith(KEY.allWaits)) continue;
    for (const [id, t] of Object.entries(parseRecord<WaitRecord>(kv)?.links ?? {})) troubles.set(id, t);
  }
  const views: LinkView[] = [];
  for (const kv of keys) {
    if (!kv.key.startsWith(KEY.links)) continue;
    const id = kv.key.slice(KEY.links.length);
    const view: LinkView = { id, revision: kv.modRevision, problems: [], condition: "pending" };
    readLinkRecord(kv.value, view, byKey);
    // The plugin keys a link by its two ends, sorted, not by the id `ratchet apply` gave it.
    const stateKey = view.a && view.b ? KEY.state(linkId(view.a, view.b)) : undefined;
    const state = stateKey ? byKey.get(stateKey) : undefined;
    if (state) {
      view.state = parseRecord<LinkState>(state);
      if (!view.state) view.problems.push(`${stateKey} is not a JSON object`);
    }
    view.condition = linkCondition(view.state);
    const trouble = view.a && view.b ? troubles.get(linkId(view.a, view.b)) : undefined;
    if (trouble && view.condition !== "up") {
      view.condition = trouble.status;
      view.trouble = trouble;
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

/** A link's state in one word: a veth is up once made; a vxlan once both of its ends are. */
export function linkCondition(state?: LinkState): LinkView["condition"] {
  if (!state) return "pending";
  if (state.kind === "veth") return state.status === "up" ? "up" : "pending";
  const made = Object.values(state.ends ?? {}).filter((e) => e.up).length;
  return made >= 2 ? "up" : made === 1 ? "partial" : "pending";
}

/** `ratchet status`'s links section: one line per link with its condition. */
export function formatLinks(views: LinkView[]): string {
  if (!views.length) return "links: none applied";
  const lines = views.map((v) => {
    const kind = v.state ? ` ${v.state.kind}${v.state.vni ? ` vni ${v.state.vni}` : ""}` : "";
    const notes = [
      ...v.problems,
      ...(v.trouble ? [`${v.trouble.errno ? `${v.trouble.errno}: ` : ""}${v.trouble.reason}`] : []),
    ];
    return `  ${v.condition.padEnd(10)}${v.id}${kind}${notes.length ? ` (${notes.join("; ")})` : ""}`;
  });
  const up = views.filter((v) => v.condition === "up").length;
  return [`links: ${up} of ${views.length} up`, ...lines].join("\n");
}
