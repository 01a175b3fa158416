/** /api/allocations: which container holds which address, and releasing a leaked one. */
import { contains, parseCidrOrReason, tryParseIp } from "../ip/mod.ts";
import { ANCHOR_PREFIX, decodeOrBlank, recordKey, releaseRecord } from "../ipam/mod.ts";
import { type Store, StoreConflictError } from "../store/mod.ts";
import { type AllocationView, AnchorSnapshot } from "./anchor_view.ts";
import { conflict } from "./cas.ts";
import { expectedRevision, HttpError, json, readJsonObject } from "./http.ts";

/**
 * GET /api/allocations?namespace=&pod=&subnet=&q=
 * namespace and pod match exactly; subnet keeps addresses inside the CIDR; q is a case-insensitive
 * substring of any field.
 */
export async function listAllocations(store: Store, params: URLSearchParams): Promise<Response> {
  const keep = allocationFilter(params);
  return json(new AnchorSnapshot(await store.list(ANCHOR_PREFIX)).allocationViews().filter(keep));
}

/** GET /api/allocations/{id}, with the revision as ETag. */
export async function getAllocation(store: Store, id: string): Promise<Response> {
  const view = new AnchorSnapshot(await store.list(ANCHOR_PREFIX)).allocationViews().find((a) => a.id === id);
  if (!view) throw new HttpError(404, `no allocation ${id}`);
  return json(view, 200, { etag: `"${view.revision}"` });
}

/**
 * DELETE /api/allocations/{id}: releases the address of a container that is gone but leaked it,
 * through mod/ipam's release so that the address's guard goes with the record.
 */
export async function deleteAllocation(store: Store, id: string, req: Request): Promise<Response> {
  const expected = expectedRevision(req, await readJsonObject(req));
  const what = `the allocation ${id}`;
  const kv = await store.get(recordKey(id));
  if (!kv) throw new HttpError(404, `no allocation ${id}`);
  if (expected !== undefined && expected !== kv.modRevision) {
    throw await conflict(store, kv.key, expected, what, true);
  }
  const record = decodeOrBlank(id, kv.value);
  let released: boolean;
  try {
    // With a revision the edit is a compare-and-swap to the end: no retry on a record changed meanwhile.
    released = await releaseRecord(store, { record, modRevision: kv.modRevision }, {
      retry: expected === undefined,
    });
  } catch (e) {
    if (e instanceof StoreConflictError && expected !== undefined) {
      throw await conflict(store, kv.key, expected, what, true);
    }
    throw e;
  }
  if (!released) throw new HttpError(404, `no allocation ${id}`);
  return json({ released: id, ip: record.ip });
}

function allocationFilter(params: URLSearchParams): (a: AllocationView) => boolean {
  const namespace = params.get("namespace") || undefined;
  const pod = params.get("pod") || undefined;
  const q = params.get("q")?.trim().toLowerCase() || undefined;
  const subnetText = params.get("subnet") || undefined;
  const subnet = subnetText === undefined ? undefined : parseCidrOrReason(subnetText);
  if (typeof subnet === "string") {
    throw new HttpError(400, `subnet "${subnetText}": ${subnet}`, { field: "subnet" });
  }
  return (a) => {
    if (namespace !== undefined && a.namespace !== namespace) return false;
    if (pod !== undefined && a.pod !== pod) return false;
    if (subnet) {
      const ip = tryParseIp(a.ip);
      if (!ip || !contains(subnet, ip)) return false;
    }
    if (q === undefined) return true;
    return [a.id, a.ip, a.pod, a.namespace, a.controller, a.subnet, a.node ?? ""].some((f) =>
      f.toLowerCase().includes(q)
    );
  };
}
