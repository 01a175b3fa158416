/**
 * A laid-out picture as one standalone SVG 1.1 document (https://www.w3.org/TR/SVG11/): its own
 * styles, no scripts, no external references, so it opens in any browser or viewer and monkey can
 * place it in its page as it is. Every stored text is escaped.
 */
import { type Layout, layoutPicture, type Point } from "./layout.ts";
import {
  CONDITION_COLORS,
  CONDITION_MEANINGS,
  conditionClass,
  endLabel,
  type LinkCondition,
  linkSummary,
  NO_STATE_COLOR,
  type Picture,
  type PictureLink,
} from "./model.ts";

const LEGEND_HEIGHT = 40;

const STYLE = `
svg.ratchet-topology { font-family: "DejaVu Sans", Verdana, system-ui, sans-serif; }
.title { font-size: 15px; font-weight: bold; fill: #1d2330; }
.legend text { font-size: 11px; fill: #475467; }
.cluster > rect { fill: #eef1f6; stroke: #b8c1d1; stroke-width: 1.2; }
.cluster .name { font-size: 13px; font-weight: bold; fill: #1d2330; }
.cluster .sub, .pod .sub { font-size: 10.5px; fill: #667085; }
.pod > rect { fill: #ffffff; stroke: #5b6b86; stroke-width: 1.3; }
.pod .name { font-size: 13px; fill: #1d2330; }
.link .hit { fill: none; stroke: transparent; stroke-width: 12; cursor: pointer; }
.link .line { fill: none; stroke-width: 2.2; stroke-linejoin: round; stroke-linecap: round; pointer-events: none; }
.link.vxlan .line { stroke-dasharray: 8 5; }
.link.selected .line { stroke-width: 4.5; }
.labels text { font-size: 10.5px; fill: #344054; paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; pointer-events: none; }
.labels .mid { fill: #667085; font-style: italic; }
${
  [...Object.entries(CONDITION_COLORS), ["none", NO_STATE_COLOR]].map(([c, color]) =>
    `.${conditionClass(c === "none" ? undefined : c)} .line { stroke: ${color}; }`
  ).join("\n")
}
`;

/** Escapes text for XML content and attribute values. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const n = (v: number) => String(Math.round(v * 10) / 10);

/** A rounded polyline: straight runs, each corner a quadratic curve through the midpoints. */
function pathData(points: Point[]): string {
  if (points.length < 3) return `M${points.map((p) => `${n(p.x)},${n(p.y)}`).join(" L")}`;
  const mid = (a: Point, b: Point) => `${n((a.x + b.x) / 2)},${n((a.y + b.y) / 2)}`;
  let d = `M${n(points[0].x)},${n(points[0].y)} L${mid(points[0], points[1])}`;
  for (let i = 1; i < points.length - 1; i++) {
    d += ` Q${n(points[i].x)},${n(points[i].y)} ${mid(points[i], points[i + 1])}`;
  }
  const last = points[points.length - 1];
  return `${d} L${n(last.x)},${n(last.y)}`;
}

/** A point `dist` px along the polyline from its start, and the direction there. */
function along(points: Point[], dist: number): { p: Point; dx: number; dy: number } {
  for (let i = 0; i < points.length - 1; i++) {
    const [a, b] = [points[i], points[i + 1]];
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    if (len === 0) continue;
    const [dx, dy] = [(b.x - a.x) / len, (b.y - a.y) / len];
    if (dist <= len || i === points.length - 2) {
      const t = Math.min(dist, len);
      return { p: { x: a.x + dx * t, y: a.y + dy * t }, dx, dy };
    }
    dist -= len;
  }
  return { p: points[0], dx: 1, dy: 0 };
}

function lengthOf(points: Point[]): number {
  let len = 0;
  for (let i = 0; i < points.length - 1; i++) {
    len += Math.hypot(points[i + 1].x - points[i].x, points[i + 1].y - points[i].y);
  }
  return len;
}

/** The classes of a link's group: `link veth state-up`. */
export function linkClass(l: PictureLink): string {
  return `link ${l.kind ?? "unknown"} ${conditionClass(l.condition)}`;
}

/** A link's tooltip: its id, its two ends and its summary. */
function linkTitle(l: PictureLink): string {
  const end = (e: PictureLink["a"]) => `${e.pod}:${endLabel(e)}`;
  const problems = [l.reason, ...l.problems ?? []].filter(Boolean).map((p) => `\n${p}`).join("");
  return `${l.id}\n${end(l.a)} -- ${end(l.b)}\n${linkSummary(l)}${problems}`;
}

/**
 * The labels at each end of a link (interface and address), and its kind in the middle. `nth` counts
 * the links already labelled at each pod: their labels alternate sides of the line and step outward,
 * so the ends of a router's links do not print over each other.
 */
function linkLabels(l: PictureLink, points: Point[], nth: Map<string, number>): string {
  const total = lengthOf(points);
  const out: string[] = [];
  const text = (x: number, y: number, anchor: string, cls: string, label: string) =>
    out.push(
      `<text class="${cls}" x="${n(x)}" y="${n(y)}" text-anchor="${anchor}">${xmlEscape(label)}</text>`,
    );
  // Each end's label starts near its pod and runs away from it: along a flat line, above or below it
  // (alternating, for a pod's k-th link); beside a steep one, to its left or right.
  const end = (path: Point[], e: PictureLink["a"]) => {
    const k = nth.get(e.pod) ?? 0;
    nth.set(e.pod, k + 1);
    const side = k % 2 ? -1 : 1;
    const { dx, dy } = along(path, 0);
    if (Math.abs(dx) >= Math.abs(dy)) {
      const { p } = along(path, Math.min(8 + Math.floor(k / 2) * 10, total / 4));
      text(p.x, p.y + (side > 0 ? 13 : -5), dx > 0 ? "start" : "end", "end", endLabel(e));
    } else {
      const { p } = along(path, Math.min(18 + Math.floor(k / 2) * 14, total / 3));
      const right = (dy > 0 ? -1 : 1) * side > 0;
      text(p.x + (right ? 7 : -7), p.y + 4, right ? "start" : "end", "end", endLabel(e));
    }
  };
  end(points, l.a);
  end([...points].reverse(), l.b);
  // The line's dashes already say veth or vxlan; the middle names the VNI, once the plugin has one.
  if (l.vni !== undefined && total > 300) { // room between the two end labels
    const { p } = along(points, total / 2);
    text(p.x, p.y - 5, "middle", "mid", `vni ${l.vni}`);
  }
  return out.join("");
}

/** The legend: what each colour and each line style means (README says more); its width, px. */
function legend(picture: Picture, x: number, y: number): { svg: string; width: number } {
  const items: string[] = [];
  let at = x;
  const states: [string | undefined, string][] = picture.links.some((l) => l.condition !== undefined)
    ? (Object.keys(CONDITION_COLORS) as LinkCondition[]).map((c) => [c, c])
    : [[undefined, "no state: drawn from the file alone"]];
  const item = (cls: string, dash: boolean, text: string, title?: string) => {
    items.push(
      `<g class="${cls}">${
        title ? `<title>${xmlEscape(title)}</title>` : ""
      }<line class="line" x1="${at}" y1="${y}" x2="${at + 26}" y2="${y}" stroke-width="3"${
        dash ? ' stroke-dasharray="8 5"' : ""
      }/><text x="${at + 32}" y="${y + 4}">${xmlEscape(text)}</text></g>`,
    );
    at += 44 + text.length * 6.4;
  };
  for (const [c, text] of states) {
    item(conditionClass(c), false, text, c && `${c}: ${CONDITION_MEANINGS[c as LinkCondition]}`);
  }
  at += 16;
  item(conditionClass(undefined), false, "veth (one node)");
  item(conditionClass(undefined), true, "vxlan (across nodes)");
  return { svg: `<g class="legend">${items.join("")}</g>`, width: at - x };
}

/**
 * The picture as an SVG document (UTF-8 text). Pods carry `data-pod`, links `data-link` with their
 * id and a `<title>` naming both ends, so a page can find and recolour them.
 */
export function renderSvg(picture: Picture, layout: Layout = layoutPicture(picture)): string {
  const dy = LEGEND_HEIGHT + (picture.title ? 22 : 0);
  const key = legend(picture, 24, dy - 18);
  const width = Math.max(layout.width, key.width + 48);
  const height = layout.height + dy;
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" class="ratchet-topology" version="1.1" width="${
      n(width)
    }" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}">`,
    `<style>${STYLE}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  if (picture.title) out.push(`<text class="title" x="24" y="24">${xmlEscape(picture.title)}</text>`);
  out.push(key.svg);
  if (!picture.pods.length) {
    out.push(
      `<g class="legend"><text x="24" y="${dy + 24}">Nothing to draw yet: no pods or links.</text></g>`,
    );
  }
  out.push(`<g transform="translate(0,${dy})">`);
  out.push(`<g class="clusters">`);
  for (const c of layout.clusters) {
    const { x, y, width: w, height: h } = c.box;
    const sub = c.node ? [c.node.parent, c.node.address].filter(Boolean).join(" ") : "";
    out.push(
      `<g class="cluster" data-node="${xmlEscape(c.node?.name ?? "")}"><rect x="${n(x)}" y="${n(y)}" width="${
        n(w)
      }" height="${n(h)}" rx="10"/><text class="name" x="${n(x + 14)}" y="${n(y + 20)}">${
        xmlEscape(c.node?.name ?? "no node known")
      }</text>${
        sub ? `<text class="sub" x="${n(x + 14)}" y="${n(y + 35)}">${xmlEscape(sub)}</text>` : ""
      }</g>`,
    );
  }
  out.push(`</g><g class="links">`);
  // A kept layout may be older than the states: each link is drawn as `picture` has it now.
  const current = new Map(picture.links.map((l) => [l.id, l]));
  const places = layout.links.map(({ link, points }) => ({ link: current.get(link.id) ?? link, points }));
  for (const { link, points } of places) {
    const d = pathData(points);
    out.push(
      `<g class="${linkClass(link)}" data-link="${xmlEscape(link.id)}"><title>${
        xmlEscape(linkTitle(link))
      }</title><path class="hit" d="${d}"/><path class="line" d="${d}"/></g>`,
    );
  }
  // End labels go under the pods: a crowded picture may hide a label, never a pod's name.
  out.push(`</g><g class="labels">`);
  const nth = new Map<string, number>();
  for (const { link, points } of places) {
    out.push(`<g data-link="${xmlEscape(link.id)}">${linkLabels(link, points, nth)}</g>`);
  }
  out.push(`</g><g class="pods">`);
  for (const { pod, box } of layout.pods.values()) {
    const cx = box.x + box.width / 2;
    out.push(
      `<g class="pod" data-pod="${xmlEscape(pod.id)}"><rect x="${n(box.x)}" y="${n(box.y)}" width="${
        n(box.width)
      }" height="${n(box.height)}" rx="6"/><text class="name" x="${n(cx)}" y="${
        n(box.y + 17)
      }" text-anchor="middle">${xmlEscape(pod.name)}</text><text class="sub" x="${n(cx)}" y="${
        n(box.y + 32)
      }" text-anchor="middle">${xmlEscape(pod.namespace)}</text></g>`,
    );
  }
  out.push(`</g></g></svg>`);
  return out.join("\n") + "\n";
}
