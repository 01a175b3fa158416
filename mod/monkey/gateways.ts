/** /api/gateways: each subnet's gateway, keyed by the subnet in CIDR form. */
import { type Cidr, formatCidr, formatIp, tryParseCidr } from "../ip/mod.ts";
import {
  ANCHOR_PREFIX,
  checkGateway,
  checkSubnet,
  GATEWAY_PREFIX,
  gatewayKey,
  IpamError,
  stateOf,
  storedGateway,
} from "../ipam/mod.ts";
import type { Store } from "../store/mod.ts";
import { AnchorSnapshot } from "./anchor_view.ts";
import { casDelete, casPut } from "./cas.ts";
import { expectedRevision, HttpError, json, readJsonObject, stringField } from "./http.ts";

/** GET /api/gateways */
export async function listGateways(store: Store): Promise<Response> {
  return json(new AnchorSnapshot(await store.list(ANCHOR_PREFIX)).gatewayViews());
}

/** GET /api/gateways/{subnet}, with the revision as ETag. */
export async function getGateway(store: Store, subnet: string): Promise<Response> {
  const key = await storedKey(store, subnet);
  const views = key ? new AnchorSnapshot(await store.list(ANCHOR_PREFIX)).gatewayViews() : [];
  const view = views.find((g) => gatewayKey(g.subnet) === key);
  if (!view) throw new HttpError(404, `no gateway for subnet ${subnet}`);
  return json(view, 200, { etag: `"${view.revision}"` });
}

/**
 * PUT /api/gateways/{subnet} with {"gateway": "10.0.1.1", "revision"?}: the subnet must be a network
 * block that can hold pods, and the gateway one of its host addresses (mod/ipam's checks, as ADD makes).
 */
export async function putGateway(store: Store, subnet: string, req: Request): Promise<Response> {
  const body = await readJsonObject(req);
  const expected = expectedRevision(req, body);
  const block = validated(() => checkSubnet(subnet, "subnet"), "subnet");
  const gateway = stringField(body, "gateway");
  const ip = validated(() => checkGateway(gateway, block, "gateway"), "gateway");
  // A key spelled differently from the canonical one (the original keyed by the text as written) is edited in place.
  const key = (await storedKey(store, subnet, block)) ?? gatewayKey(formatCidr(block));
  await casPut(store, key, formatIp(ip), expected, `the gateway of ${subnet}`);
  return getGateway(store, key.slice(GATEWAY_PREFIX.length));
}

/** DELETE /api/gateways/{subnet} */
export async function deleteGateway(store: Store, subnet: string, req: Request): Promise<Response> {
  const expected = expectedRevision(req, await readJsonObject(req));
  const key = (await storedKey(store, subnet)) ?? gatewayKey(subnet);
  await casDelete(store, key, expected, `the gateway of ${subnet}`);
  return json({ deleted: key.slice(GATEWAY_PREFIX.length) });
}

/** The stored key of the subnet's gateway: as written in the URL, else any key naming the same block. */
async function storedKey(store: Store, subnet: string, block?: Cidr): Promise<string | undefined> {
  const exact = await store.get(gatewayKey(subnet));
  if (exact) return exact.key;
  const c = block ?? tryParseCidr(subnet);
  if (!c) return undefined;
  const found = storedGateway(stateOf(await store.list(GATEWAY_PREFIX)), c);
  return found && gatewayKey(found.key);
}

/** Runs an IPAM check, turning its error into a 400 that names the field. */
function validated<T>(check: () => T, field: string): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof IpamError) throw new HttpError(400, e.message, { field });
    throw e;
  }
}
