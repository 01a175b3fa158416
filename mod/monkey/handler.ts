/** Routes a request to its endpoint, with authentication and errors in one place. */
import { PROGRAM_VERSION } from "../role.ts";
import type { Store } from "../store/mod.ts";
import { deleteAllocation, getAllocation, listAllocations } from "./allocations.ts";
import { compat, isCompatEndpoint } from "./compat.ts";
import { deleteGateway, getGateway, listGateways, putGateway } from "./gateways.ts";
import { errorResponse, HttpError, json } from "./http.ts";
import { listLinks } from "./links.ts";
import { getPicture } from "./picture.ts";
import { isLoopback } from "./listen.ts";
import { deletePool, getPool, listPools, putPool } from "./pools.ts";
import { tokenMatches } from "./token.ts";
import { UI_HTML } from "./ui.ts";

/** What the handler needs; the server owns the store's life. */
export interface MonkeyHandlerOptions {
  store: Store;
  /** The bearer token every write (and, unless `openReads`, every API read) must carry. */
  token: string;
  /** Reads without a token: true when listening on loopback only. */
  openReads: boolean;
}

interface Resource {
  list?: (store: Store, params: URLSearchParams, req: Request) => Promise<Response>;
  GET?: (store: Store, id: string) => Promise<Response>;
  PUT?: (store: Store, id: string, req: Request) => Promise<Response>;
  DELETE?: (store: Store, id: string, req: Request) => Promise<Response>;
}

const RESOURCES: Record<string, Resource> = {
  info: { list: (store) => Promise.resolve(json({ store: store.describe(), version: PROGRAM_VERSION })) },
  pools: { list: listPools, GET: getPool, PUT: putPool, DELETE: deletePool },
  gateways: { list: listGateways, GET: getGateway, PUT: putGateway, DELETE: deleteGateway },
  allocations: { list: listAllocations, GET: getAllocation, DELETE: deleteAllocation },
  links: { list: listLinks },
  picture: { list: getPicture },
};

/** The page can only talk to its own origin, and runs no script but its own inline one. */
const UI_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * Builds the request handler for Deno.serve: the UI at `/`, the JSON API under `/api/`.
 *
 * @example
 * ```ts
 * Deno.serve({ hostname: "127.0.0.1", port: 0 }, createMonkeyHandler({ store, token, openReads: true }));
 * ```
 */
export function createMonkeyHandler(options: MonkeyHandlerOptions): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      return await route(req, options);
    } catch (e) {
      return failure(e);
    }
  };
}

function route(req: Request, { store, token, openReads }: MonkeyHandlerOptions): Promise<Response> {
  const url = new URL(req.url);
  const read = req.method === "GET" || req.method === "HEAD";
  if (openReads) checkHost(req);
  if (url.pathname === "/" || url.pathname === "/index.html") {
    if (!read) throw new HttpError(405, "the page is read-only", {}, { allow: "GET, HEAD" });
    return Promise.resolve(new Response(UI_HTML, { headers: UI_HEADERS }));
  }
  const [api, name, ...rest] = url.pathname.slice(1).split("/");
  if (api !== "api") throw new HttpError(404, `no such page ${url.pathname}; the API is under /api/`);
  const compatName = name === "v1" && rest.length === 1 && isCompatEndpoint(rest[0]) ? rest[0] : undefined;
  // Old scripts carry no token; their writes learn where the endpoint went (405) before any 401.
  if (compatName && !read) return compat(store, compatName, req.method);
  if (!read || !openReads) authorize(req, token);
  if (compatName) return compat(store, compatName, req.method);
  const resource = RESOURCES[name];
  if (!resource) throw new HttpError(404, `no such endpoint ${url.pathname}`);
  if (rest.length === 0 || (rest.length === 1 && rest[0] === "")) {
    if (!read) {
      throw new HttpError(405, `${url.pathname} is a list; ${req.method} one item below it`, {}, {
        allow: "GET, HEAD",
      });
    }
    return resource.list!(store, url.searchParams, req);
  }
  // A subnet's slash may arrive encoded (10.0.1.0%2F24) or not (10.0.1.0/24); both name the item.
  const id = decode(rest.join("/"));
  const method = (req.method === "HEAD" ? "GET" : req.method) as keyof Resource;
  const handler = method !== "list" && resource[method];
  if (!handler) {
    const allow = (["GET", "PUT", "DELETE"] as const).filter((m) => resource[m]).join(", ");
    throw new HttpError(405, `${req.method} is not allowed on /api/${name}/{id}; allowed: ${allow}`, {}, {
      allow,
    });
  }
  return handler(store, id, req);
}

/** 401 unless the request carries `Authorization: Bearer <token>`. */
function authorize(req: Request, token: string): void {
  const header = req.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match && tokenMatches(match[1], token)) return;
  throw new HttpError(
    401,
    header
      ? "the bearer token is wrong"
      : "this request needs Authorization: Bearer <token> (the token is in monkey's token file)",
    {},
    { "www-authenticate": 'Bearer realm="monkey"' },
  );
}

/**
 * Open reads are safe only for this machine's own clients: a web page elsewhere could point its own
 * host name at 127.0.0.1 (DNS rebinding) and read the API through the browser, but it cannot fake Host.
 */
function checkHost(req: Request): void {
  const host = req.headers.get("host");
  if (host === null) return;
  const hostname = host.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  if (!isLoopback(hostname)) {
    throw new HttpError(
      421,
      `Host "${host}" is not a loopback name; open monkey as http://127.0.0.1:<port>/`,
    );
  }
}

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `the path segment "${raw}" is not valid percent-encoding`);
  }
}

/** Store outages are 503 so scripts retry; anything unexpected is 500 with its message, and logged. */
function failure(e: unknown): Response {
  if (e instanceof HttpError) return errorResponse(e);
  const err = e as Error & { temporary?: boolean };
  if (err?.temporary) return errorResponse(new HttpError(503, err.message, {}, { "retry-after": "1" }));
  console.error(`monkey: ${err?.stack ?? err}`);
  return errorResponse(new HttpError(500, err?.message ?? String(e)));
}
