/**
 * Where everything goes: npm @dagrejs/dagre (layered layout, Sugiyama style) in two levels. Each
 * node's pods and its veth links are laid out alone, then the nodes as boxes, joined by one edge per
 * pair of nodes that share vxlan links; a vxlan link follows that edge between its two pods. Nested
 * (compound) layout of the whole graph in one go takes dagre 20-40 s at 1,000 links and elkjs 7 s;
 * two levels keep every layout small (README, "Pictures of a topology", has the numbers).
 *
 * Loaded only by `ratchet render --to svg`, `ratchet status --svg` and monkey; never on a plugin's path.
 */
import dagre from "@dagrejs/dagre";
import type { Picture, PictureLink, PictureNode, PicturePod } from "./model.ts";

/** A point in SVG user units (px). */
export interface Point {
  x: number;
  y: number;
}

/** A rectangle by its top-left corner and size, px. */
export interface Box extends Point {
  width: number;
  height: number;
}

/** A cluster's place: the node (undefined for pods no node is known for) and its box. */
export interface ClusterPlace {
  node?: PictureNode;
  box: Box;
}

/** A link's path, from the border of end a's pod to the border of end b's. */
export interface LinkPlace {
  link: PictureLink;
  points: Point[];
}

/** The laid-out picture; the origin is the top-left corner, sizes in px. */
export interface Layout {
  width: number;
  height: number;
  clusters: ClusterPlace[];
  /** By pod id. */
  pods: Map<string, { pod: PicturePod; box: Box }>;
  links: LinkPlace[];
}

/** Sizes, px. Text widths are estimated from the character count: no font metrics at run time. */
export const METRICS = {
  podHeight: 40,
  podMinWidth: 96,
  /** Per character at the pod name's 13 px font (a little wide, so names never overflow). */
  charWidth: 7.6,
  clusterHeader: 44,
  clusterPad: 18,
  /** Room between pods for the end labels. */
  podGapX: 56,
  podGapY: 96,
  clusterGapX: 200,
  clusterGapY: 60,
  /** Between parallel links sharing a route. */
  bundleGap: 14,
  margin: 24,
  /** Above this many nodes, clusters are ranked breadth-first (see layoutPicture). */
  rankedClusters: 24,
} as const;

const NO_NODE = "\0none";

/** Lays out a picture. Costs about 1 s of CPU at 1,000 links (bench/picture_bench.ts). */
export function layoutPicture(picture: Picture): Layout {
  const nodes = new Map<string, PictureNode | undefined>(picture.nodes.map((n) => [n.name, n]));
  const podsOf = new Map<string, PicturePod[]>();
  const podById = new Map(picture.pods.map((p) => [p.id, p]));
  for (const p of picture.pods) {
    const key = p.node ?? NO_NODE;
    if (!nodes.has(key)) nodes.set(key, key === NO_NODE ? undefined : { name: key });
    let list = podsOf.get(key);
    if (!list) podsOf.set(key, list = []);
    list.push(p);
  }
  const clusterOf = (podId: string) => podById.get(podId)?.node ?? NO_NODE;
  const inner = new Map<string, PictureLink[]>();
  const across: PictureLink[] = [];
  for (const l of picture.links) {
    const [ca, cb] = [clusterOf(l.a.pod), clusterOf(l.b.pod)];
    if (ca === cb) {
      let list = inner.get(ca);
      if (!list) inner.set(ca, list = []);
      list.push(l);
    } else across.push(l);
  }

  // Level one: each cluster alone.
  const local = new Map<string, ReturnType<typeof layoutCluster>>();
  for (const [key, node] of nodes) {
    const label = node ? [node.name, clusterSubtitle(node)] : ["no node known", ""];
    local.set(key, layoutCluster(podsOf.get(key) ?? [], inner.get(key) ?? [], label));
  }

  // Level two: the clusters, joined by one edge per pair that shares links. Past a few dozen nodes,
  // ranks are breadth-first levels from each group's busiest node, so every edge joins two
  // neighbouring ranks or lies within one and dagre makes no dummy nodes (a ring of 100 nodes
  // otherwise ranks 100 deep and takes seconds); a small lab keeps dagre's own ranking, which crosses less.
  const pairs = new Map<string, { ends: [string, string]; from?: string; links: PictureLink[] }>();
  for (const l of across) {
    const [ca, cb] = [clusterOf(l.a.pod), clusterOf(l.b.pod)];
    const key = ca < cb ? `${ca}\0${cb}` : `${cb}\0${ca}`;
    let pair = pairs.get(key);
    if (!pair) pairs.set(key, pair = { ends: [ca, cb], links: [] });
    pair.links.push(l);
  }
  const level = nodes.size > METRICS.rankedClusters
    ? breadthFirstLevels([...nodes.keys()], [...pairs.values()])
    : undefined;
  const top = new dagre.graphlib.Graph({ multigraph: false });
  top.setGraph({
    rankdir: "LR",
    nodesep: METRICS.clusterGapY,
    ranksep: METRICS.clusterGapX,
    edgesep: 30,
    marginx: METRICS.margin,
    marginy: METRICS.margin,
  });
  top.setDefaultEdgeLabel(() => ({}));
  for (const [key, l] of local) top.setNode(key, { width: l.width, height: l.height });
  for (const pair of pairs.values()) {
    const [x, y] = pair.ends;
    if (level && level.get(x) === level.get(y)) continue; // drawn straight, beside its rank
    pair.from = !level || level.get(x)! < level.get(y)! ? x : y;
    top.setEdge(pair.from, pair.from === x ? y : x, { weight: pair.links.length });
  }
  dagre.layout(top);

  const clusters: ClusterPlace[] = [];
  const pods = new Map<string, { pod: PicturePod; box: Box }>();
  const links: LinkPlace[] = [];
  for (const [key, node] of nodes) {
    const at = top.node(key) as { x: number; y: number; width: number; height: number };
    const origin = { x: at.x - at.width / 2, y: at.y - at.height / 2 };
    const l = local.get(key)!;
    clusters.push({ node, box: { ...origin, width: at.width, height: at.height } });
    for (const [id, box] of l.pods) {
      pods.set(id, { pod: podById.get(id)!, box: { ...box, x: box.x + origin.x, y: box.y + origin.y } });
    }
    for (const { link, points } of l.links) {
      links.push({ link, points: points.map((p) => ({ x: p.x + origin.x, y: p.y + origin.y })) });
    }
  }
  for (const { ends, from, links: bundle } of pairs.values()) {
    const route = from === undefined
      ? undefined
      : (top.edge(from, from === ends[0] ? ends[1] : ends[0]) as { points: Point[] }).points;
    bundle.forEach((link, i) => {
      const [a, b] = [pods.get(link.a.pod)!.box, pods.get(link.b.pod)!.box];
      if (!route) {
        links.push({ link, points: [border(a, centre(b)), border(b, centre(a))] });
        return;
      }
      // The route's own ends are on the cluster borders; from there each link goes straight to its pod.
      const forward = clusterOf(link.a.pod) === from;
      const whole = offset(
        forward ? route : [...route].reverse(),
        (i - (bundle.length - 1) / 2) * METRICS.bundleGap,
      );
      const via = whole.slice(1, -1);
      links.push({
        link,
        points: [border(a, via[0] ?? centre(b)), ...via, border(b, via[via.length - 1] ?? centre(a))],
      });
    });
  }
  const graph = top.graph() as { width: number; height: number };
  // dagre leaves an empty graph's size at -Infinity.
  const size = (v: number) => Number.isFinite(v) ? v : 2 * METRICS.margin;
  return { width: size(graph.width), height: size(graph.height), clusters, pods, links };
}

/** The second line of a cluster's header: its parent interface and address. */
export function clusterSubtitle(node: PictureNode): string {
  return [node.parent, node.address].filter(Boolean).join(" ");
}

/** A pod box's width for its two lines of text. */
export function podWidth(pod: PicturePod): number {
  const chars = Math.max(pod.name.length, pod.namespace.length * 0.85);
  return Math.max(METRICS.podMinWidth, Math.ceil(chars * METRICS.charWidth + 24));
}

/**
 * One cluster: pods with veth links between them by dagre (top to bottom), the others in a grid
 * beneath, so a node of many unlinked pods stays compact. Coordinates are the cluster's own.
 */
function layoutCluster(members: PicturePod[], all: PictureLink[], label: [string, string] | string[]) {
  const { clusterPad: pad, clusterHeader: header, podHeight: h } = METRICS;
  // A link from a pod to itself (a hand-written store record; lint refuses it in files) is a loop
  // drawn beside the pod, not a dagre edge.
  const loops = all.filter((l) => l.a.pod === l.b.pod);
  const links = all.filter((l) => l.a.pod !== l.b.pod);
  const linked = new Set(links.flatMap((l) => [l.a.pod, l.b.pod]));
  const pods = new Map<string, Box>();
  const out: LinkPlace[] = [];
  let width = 0, height = 0;
  if (linked.size) {
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: METRICS.podGapX, ranksep: METRICS.podGapY, edgesep: 24 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const p of members) if (linked.has(p.id)) g.setNode(p.id, { width: podWidth(p), height: h });
    for (const l of links) g.setEdge(l.a.pod, l.b.pod, {}, l.id);
    dagre.layout(g);
    for (const id of g.nodes()) {
      const n = g.node(id) as { x: number; y: number; width: number; height: number };
      pods.set(id, {
        x: pad + n.x - n.width / 2,
        y: header + n.y - n.height / 2,
        width: n.width,
        height: n.height,
      });
    }
    // Parallel links between the same two pods would be drawn on top of each other: spread them.
    const seen = new Map<string, number>();
    for (const l of links) {
      const e = g.edge({ v: l.a.pod, w: l.b.pod, name: l.id }) as { points: Point[] };
      const pairKey = [l.a.pod, l.b.pod].sort().join("\0");
      const nth = seen.get(pairKey) ?? 0;
      seen.set(pairKey, nth + 1);
      const shift = (nth % 2 ? -1 : 1) * Math.ceil(nth / 2) * METRICS.bundleGap * 2;
      out.push({ link: l, points: offset(e.points, shift).map((p) => ({ x: pad + p.x, y: header + p.y })) });
    }
    const graph = g.graph() as { width: number; height: number };
    width = graph.width;
    height = graph.height;
  }
  const alone = members.filter((p) => !linked.has(p.id));
  if (alone.length) {
    const cell = Math.max(...alone.map(podWidth)) + METRICS.podGapX / 2;
    const cols = Math.max(
      1,
      Math.min(alone.length, Math.max(Math.floor(width / cell), Math.ceil(Math.sqrt(alone.length / 2)))),
    );
    const top = height ? height + METRICS.podGapY / 2 : 0;
    alone.forEach((p, i) => {
      const [col, row] = [i % cols, Math.floor(i / cols)];
      pods.set(p.id, {
        x: pad + col * cell,
        y: header + top + row * (h + 24),
        width: podWidth(p),
        height: h,
      });
    });
    width = Math.max(width, cols * cell - METRICS.podGapX / 2);
    height = top + Math.ceil(alone.length / cols) * (h + 24) - 24;
  }
  const looped = new Map<string, number>();
  for (const l of loops) {
    const box = pods.get(l.a.pod);
    if (!box) continue;
    const nth = looped.get(l.a.pod) ?? 0;
    looped.set(l.a.pod, nth + 1);
    const [right, reach] = [box.x + box.width, 22 + nth * 12];
    out.push({
      link: l,
      points: [
        { x: right, y: box.y + box.height * 0.3 },
        { x: right + reach, y: box.y - 4 - nth * 6 },
        { x: right + reach, y: box.y + box.height + 4 + nth * 6 },
        { x: right, y: box.y + box.height * 0.7 },
      ],
    });
    width = Math.max(width, right + reach - pad);
  }
  const labelWidth = Math.max(...label.map((t) => t.length)) * METRICS.charWidth + 8;
  return {
    width: Math.max(width, labelWidth, METRICS.podMinWidth) + 2 * pad,
    height: header + Math.max(height, 0) + pad,
    pods,
    links: out,
  };
}

/**
 * Breadth-first levels of the cluster graph, each connected group from its node with the most links;
 * joined nodes' levels differ by at most one.
 */
function breadthFirstLevels(keys: string[], pairs: { ends: [string, string]; links: unknown[] }[]) {
  const next = new Map(keys.map((k) => [k, [] as string[]]));
  const weight = new Map(keys.map((k) => [k, 0]));
  for (const { ends: [x, y], links } of pairs) {
    next.get(x)!.push(y);
    next.get(y)!.push(x);
    weight.set(x, weight.get(x)! + links.length);
    weight.set(y, weight.get(y)! + links.length);
  }
  const level = new Map<string, number>();
  for (const start of [...keys].sort((a, b) => weight.get(b)! - weight.get(a)!)) {
    if (level.has(start)) continue;
    level.set(start, 0);
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      for (const k of next.get(queue[i])!) {
        if (!level.has(k)) {
          level.set(k, level.get(queue[i])! + 1);
          queue.push(k);
        }
      }
    }
  }
  return level;
}

function centre(box: Box): Point {
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Where the segment from a box's centre toward `toward` leaves the box (dagre's intersectRect). */
function border(box: Box, toward: Point): Point {
  const c = centre(box);
  const [dx, dy] = [toward.x - c.x, toward.y - c.y];
  if (dx === 0 && dy === 0) return c;
  const [w, h] = [box.width / 2, box.height / 2];
  if (Math.abs(dy) * w > Math.abs(dx) * h) {
    const sy = dy < 0 ? -h : h;
    return { x: c.x + (sy * dx) / dy, y: c.y + sy };
  }
  const sx = dx < 0 ? -w : w;
  return { x: c.x + sx, y: c.y + (sx * dy) / dx };
}

/** A polyline moved sideways by `by` px, perpendicular to its overall direction. */
function offset(points: Point[], by: number): Point[] {
  if (by === 0 || points.length < 2) return points;
  const [first, last] = [points[0], points[points.length - 1]];
  const [dx, dy] = [last.x - first.x, last.y - first.y];
  const len = Math.hypot(dx, dy) || 1;
  const [nx, ny] = [(-dy / len) * by, (dx / len) * by];
  return points.map((p) => ({ x: p.x + nx, y: p.y + ny }));
}
