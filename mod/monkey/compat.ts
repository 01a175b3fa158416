/**
 * The original monkey's /api/v1 endpoints, read-only, for scripts written against it. Writes there
 * are refused: they bypassed validation and compare-and-swap, which /api/pools and /api/gateways add.
 */
import { readState } from "../ipam/mod.ts";
import type { Store } from "../store/mod.ts";
import { HttpError, json } from "./http.ts";

const SHAPES: Record<string, (store: Store) => Promise<unknown>> = {
  /** [{ip, pod, ns, ctrl}] from /anchor/cn/. */
  binding: async (store) =>
    [...(await readState(store)).records.values()].map(({ record: r }) => ({
      ip: r.ip,
      pod: r.podName,
      ns: r.podNamespace,
      ctrl: r.controller,
    })),
  /** [{subnet, gw}] from /anchor/gw/. */
  gateway: async (store) => [...(await readState(store)).gateways].map(([subnet, gw]) => ({ subnet, gw })),
  /** [{ns, ips}] from /anchor/ns/. */
  allocate: async (store) => [...(await readState(store)).pools].map(([ns, ips]) => ({ ns, ips })),
};

/** Where each compatibility endpoint's writes went, named in the 405 answer. */
const WRITES_MOVED_TO: Record<string, string> = {
  binding: "DELETE /api/allocations/{id}",
  gateway: "PUT or DELETE /api/gateways/{subnet}",
  allocate: "PUT or DELETE /api/pools/{namespace}",
};

/** True when `name` is one of binding, gateway, allocate. */
export function isCompatEndpoint(name: string): boolean {
  return Object.hasOwn(SHAPES, name);
}

/** GET /api/v1/{binding,gateway,allocate}; any other method gets 405 naming the new endpoint. */
export async function compat(store: Store, name: string, method: string): Promise<Response> {
  if (method !== "GET" && method !== "HEAD") {
    throw new HttpError(
      405,
      `/api/v1/${name} is read-only; use ${WRITES_MOVED_TO[name]}`,
      { use: WRITES_MOVED_TO[name] },
      { allow: "GET, HEAD" },
    );
  }
  return json(await SHAPES[name](store));
}
