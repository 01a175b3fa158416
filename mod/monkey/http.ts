/**
 * The HTTP vocabulary every monkey endpoint shares: JSON answers, errors with a status, bodies
 * read with a size limit, and the revision a client sends for compare-and-swap.
 */

/** An answer the client caused or must know about; the router turns it into `{"error": message, ...fields}`. */
export class HttpError extends Error {
  constructor(
    /** The HTTP status, e.g. 400, 401, 404, 405, 409. */
    readonly status: number,
    message: string,
    /** Extra JSON fields for the client, e.g. the item a validation error is about. */
    readonly fields: Record<string, unknown> = {},
    /** Extra response headers, e.g. Allow for 405 or WWW-Authenticate for 401. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** A JSON response; bigints (address counts of IPv6 pools) become numbers. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? Number(v) : v)), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/** The response for an HttpError. */
export function errorResponse(e: HttpError): Response {
  return json({ error: e.message, ...e.fields }, e.status, e.headers);
}

/** Pool strings and gateways are short; anything larger is a mistake or an attack. */
const MAX_BODY_BYTES = 64 * 1024;

/** Reads a JSON object body; an empty body is `{}` so that DELETE may omit it. */
export async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  const length = Number(req.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) {
    throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) {
    throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not JSON: ${(e as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** A string field of a body, trimmed; 400 naming the field when it is missing or not a string. */
export function stringField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== "string" || value.trim() === "") {
    throw new HttpError(400, `"${field}" must be a non-empty string`, { field });
  }
  return value.trim();
}

/**
 * The revision the client based its edit on, from `If-Match` (`12`, `"12"` or `W/"12"`, as ETags are
 * quoted) or the body's `"revision"`; undefined when neither is given. 0 means "the object must not exist".
 */
export function expectedRevision(req: Request, body: Record<string, unknown>): number | undefined {
  const header = req.headers.get("if-match");
  const fromHeader = header === null
    ? undefined
    : parseRevision(header.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1"), "If-Match");
  const raw = body.revision;
  const fromBody = raw === undefined || raw === null ? undefined : parseRevision(raw, "revision");
  if (fromHeader !== undefined && fromBody !== undefined && fromHeader !== fromBody) {
    throw new HttpError(400, `If-Match (${fromHeader}) and "revision" (${fromBody}) disagree`, {
      field: "revision",
    });
  }
  return fromHeader ?? fromBody;
}

function parseRevision(raw: unknown, field: string): number {
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new HttpError(
      400,
      `${field} must be a revision number (0 for "must not exist"), got ${JSON.stringify(raw)}`,
      {
        field: "revision",
      },
    );
  }
  return n;
}
