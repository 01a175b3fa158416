/**
 * What a topology picture shows, whoever drew it: nodes as clusters, pods inside them, one edge per
 * link, each end with its interface and address, and each link's state when a store was read.
 * `dsl/render_picture.ts` builds it from a topology file; `from_store.ts` from ratchet's records.
 */

import type { LinkView } from "../ratchet/link_view.ts";

/**
 * A link's state in one word, as mod/ratchet/link_view.ts finds it (`ratchet status`, monkey): `up`,
 * `partial` (one vxlan end made), `pending` (nothing made yet), `failed` (the kernel refused it) and
 * `timed out` (not up by `child_timeout_s`). Another word is drawn as unknown.
 */
export type LinkCondition = LinkView["condition"];

/** The colour of each state, shared by the SVG, the DOT output and monkey so they always agree. */
export const CONDITION_COLORS: Readonly<Record<LinkCondition, string>> = {
  up: "#2e9d5b",
  partial: "#d89a00",
  pending: "#8a94a6",
  failed: "#d32f2f",
  "timed out": "#8e44ad",
};

/** A link drawn from a topology file alone, without a store: its state is not known. */
export const NO_STATE_COLOR = "#34405a";

/** What each state means, for legends. */
export const CONDITION_MEANINGS: Readonly<Record<LinkCondition, string>> = {
  up: "every end made",
  partial: "one vxlan end made",
  pending: "nothing made yet",
  failed: "the kernel refused it (retried)",
  "timed out": "not up by child_timeout_s",
};

/** The colour for a state word; undefined, or a word this version does not know, is NO_STATE_COLOR. */
export function conditionColor(condition: string | undefined): string {
  return condition !== undefined && Object.hasOwn(CONDITION_COLORS, condition)
    ? CONDITION_COLORS[condition as LinkCondition]
    : NO_STATE_COLOR;
}

/**
 * The CSS class of a state word: `state-up`, `state-timed-out`; `state-none` when there is none.
 * Self-contained: monkey's page runs this very function's source to recolour links.
 */
export function conditionClass(condition: string | undefined): string {
  return `state-${condition ? String(condition).toLowerCase().replace(/[^a-z0-9]+/g, "-") : "none"}`;
}

/** A cluster: one Kubernetes node (or, for pods whose node is unknown, none). */
export interface PictureNode {
  name: string;
  /** The parent interface vxlan runs over, and its address when known. */
  parent?: string;
  address?: string;
}

/** A pod, keyed `<namespace>/<name>`. */
export interface PicturePod {
  id: string;
  name: string;
  namespace: string;
  /** The node's name; undefined when neither the file nor the store places the pod. */
  node?: string;
}

/** One end of a link. */
export interface PictureEnd {
  /** The pod's id, `<namespace>/<name>`. */
  pod: string;
  ifname: string;
  /** `addr/prefix`, absent for a layer-2-only end. */
  ip?: string;
}

/** One link: a veth pair on one node, or a vxlan across two. */
export interface PictureLink {
  /** The id `ratchet apply` gives it: `<nsA>.<podA>.<ifA>--<nsB>.<podB>.<ifB>`. */
  id: string;
  a: PictureEnd;
  b: PictureEnd;
  /** From the plugin's state when known, else from where the pods are; undefined when a node is unknown. */
  kind?: "veth" | "vxlan";
  vni?: number;
  /** Bytes; absent means the kernel's default. */
  mtu?: number;
  /** Absent when drawn from a file alone. */
  condition?: string;
  /** Why a failed or timed-out link is not up (`EEXIST: ...`), from the waiter's record. */
  reason?: string;
  /** Anything wrong with the records, as monkey and `ratchet status` list them. */
  problems?: string[];
}

/** The whole picture. Nodes, pods and links keep the order they were declared or listed in. */
export interface Picture {
  /** The topology's cluster name, the picture's title. */
  title?: string;
  nodes: PictureNode[];
  pods: PicturePod[];
  links: PictureLink[];
}

/** `veth` when both pods are on one known node, `vxlan` when on two, as the plugin decides. */
export function kindByPlacement(nodeA?: string, nodeB?: string): PictureLink["kind"] {
  if (nodeA === undefined || nodeB === undefined) return undefined;
  return nodeA === nodeB ? "veth" : "vxlan";
}

/** The one-line description of a link: kind, VNI, MTU and state, e.g. `vxlan vni 5001 · mtu 1450 · up`. */
export function linkSummary(l: PictureLink): string {
  return [
    [l.kind ?? "link", l.vni !== undefined ? `vni ${l.vni}` : ""].filter(Boolean).join(" "),
    l.mtu !== undefined ? `mtu ${l.mtu}` : "",
    l.condition ?? "",
  ].filter(Boolean).join(" · ");
}

/** An end's label: interface and address, e.g. `in1 192.168.2.100/24`. */
export function endLabel(e: PictureEnd): string {
  return e.ip ? `${e.ifname} ${e.ip}` : e.ifname;
}
