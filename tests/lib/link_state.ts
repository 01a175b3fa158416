/** Link state records written the way ratchet's plugin writes them, for tests that picture a lab's links. */
import { KEY } from "../../mod/ratchet/keys.ts";
import type { Store } from "../../mod/store/mod.ts";

/** One made end of a link: the container that made it and whether it is up. */
export interface MadeEnd {
  container_id: string;
  up: boolean;
}

/**
 * Puts the state of vxlan link `linkId` (its two ends, sorted: `ns/pod/ifname/ns/pod/ifname`) under
 * `/ratchet/state/<linkId>`: its VNI and the ends made so far (one end: partial; two: up).
 */
export async function putVxlanState(
  store: Store,
  linkId: string,
  vni: number,
  ends: Record<string, MadeEnd>,
): Promise<void> {
  await store.put(KEY.state(linkId), JSON.stringify({ kind: "vxlan", vni, ends }));
}
