/** /api/links: ratchet's point-to-point links, the pods' nodes, and the plugin's state per link. */
import type { Store } from "../store/mod.ts";
import { json } from "./http.ts";
import { linkViews, RATCHET_PREFIX } from "../ratchet/link_view.ts";

/** GET /api/links */
export async function listLinks(store: Store): Promise<Response> {
  return json(linkViews(await store.list(RATCHET_PREFIX)));
}
