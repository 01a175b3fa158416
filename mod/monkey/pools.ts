/** /api/pools: each namespace's address pool, with used and free counts. */
import { ANCHOR_PREFIX, parsePool, poolKey, PoolSyntaxError } from "../ipam/mod.ts";
import type { Store } from "../store/mod.ts";
import { casDelete, casPut } from "./cas.ts";
import { AnchorSnapshot } from "./anchor_view.ts";
import { expectedRevision, HttpError, json, readJsonObject, stringField } from "./http.ts";

/** Kubernetes namespace names are DNS labels; a pool under any other name could never match a pod. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** GET /api/pools */
export async function listPools(store: Store): Promise<Response> {
  return json(new AnchorSnapshot(await store.list(ANCHOR_PREFIX)).poolViews());
}

/** GET /api/pools/{namespace}, with the revision as ETag. */
export async function getPool(store: Store, namespace: string): Promise<Response> {
  const view = new AnchorSnapshot(await store.list(ANCHOR_PREFIX)).poolView(namespace);
  if (!view) throw new HttpError(404, `pool "${namespace}" does not exist`);
  return json(view, 200, { etag: `"${view.revision}"` });
}

/** PUT /api/pools/{namespace} with {"ranges": "10.0.1.[2-9],10.0.2.8", "revision"?}. */
export async function putPool(store: Store, namespace: string, req: Request): Promise<Response> {
  if (!NAMESPACE.test(namespace)) {
    throw new HttpError(
      400,
      `namespace "${namespace}" is not a Kubernetes namespace name (a-z, 0-9 and '-', at most 63)`,
      {
        field: "namespace",
      },
    );
  }
  const body = await readJsonObject(req);
  const expected = expectedRevision(req, body);
  const ranges = stringField(body, "ranges");
  try {
    // The IPAM's own check, so the API accepts exactly the pools that ADD can allocate from.
    parsePool(ranges, `pool "${namespace}"`);
  } catch (e) {
    if (!(e instanceof PoolSyntaxError)) throw e;
    throw new HttpError(400, e.message, { field: "ranges", item: e.items[0].item, errors: e.items });
  }
  await casPut(store, poolKey(namespace), ranges, expected, `pool "${namespace}"`);
  return getPool(store, namespace);
}

/** DELETE /api/pools/{namespace}; allocations stay until their containers are deleted or released. */
export async function deletePool(store: Store, namespace: string, req: Request): Promise<Response> {
  const expected = expectedRevision(req, await readJsonObject(req));
  await casDelete(store, poolKey(namespace), expected, `pool "${namespace}"`);
  return json({ deleted: namespace });
}
