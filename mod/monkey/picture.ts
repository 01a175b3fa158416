/**
 * /api/picture: the store's topology as an SVG (mod/picture), for the page to show above the links
 * table. The ETag covers everything but the links' states, which the page recolours itself from
 * /api/links; so a refresh costs a 304 until a node, pod, link or VNI changes, and the layout is kept
 * until the topology's shape changes.
 */
import type { Store } from "../store/mod.ts";
import type { Layout } from "../picture/layout.ts";
import type { Picture } from "../picture/model.ts";
import { storePicture } from "../picture/from_store.ts";
import { RATCHET_PREFIX } from "../ratchet/link_view.ts";

/** The last layout, by the shape it was made for; one entry, so memory stays bounded. */
let kept: { shape: string; layout: Layout } | undefined;

/** GET /api/picture: `image/svg+xml`, 304 when `If-None-Match` names the picture the client has. */
export async function getPicture(store: Store, _params: URLSearchParams, req: Request): Promise<Response> {
  const picture = storePicture(await store.list(RATCHET_PREFIX));
  const etag = `"${await digest(JSON.stringify(withoutStates(picture)))}"`;
  const headers = { etag, "cache-control": "no-cache" };
  if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  // The layout library loads on the first picture, not when monkey starts.
  const { layoutPicture } = await import("../picture/layout.ts");
  const { renderSvg } = await import("../picture/svg.ts");
  const shape = JSON.stringify(shapeOf(picture));
  if (kept?.shape !== shape) kept = { shape, layout: layoutPicture(picture) };
  return new Response(renderSvg(picture, kept.layout), {
    headers: { ...headers, "content-type": "image/svg+xml; charset=utf-8" },
  });
}

function withoutStates(p: Picture): Picture {
  return { ...p, links: p.links.map(({ condition: _, ...l }) => l) };
}

/** What decides where things go: clusters, pods and which pods each link joins. */
function shapeOf(p: Picture) {
  return [p.title, p.nodes, p.pods, p.links.map((l) => [l.id, l.a, l.b])];
}

async function digest(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(hash).slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}
