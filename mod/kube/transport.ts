import { KubeConfigError, KubeRequestError } from "./errors.ts";
import type { KubeAccess } from "./types.ts";

/** A status and a body; anything short of that is a KubeRequestError. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** GETs with a deadline over one TLS setup. */
export interface Transport {
  get(url: string, headers: Record<string, string>): Promise<HttpAnswer>;
  close(): void;
}

/** Picks fetch, or node:https when the kubeconfig asks to skip verification (fetch cannot, per client). */
export function openTransport(access: KubeAccess, timeoutMs: number): Transport {
  if (access.insecure && access.server.startsWith("https:")) return insecureTransport(access, timeoutMs);
  return fetchTransport(access, timeoutMs);
}

function fetchTransport(a: KubeAccess, timeoutMs: number): Transport {
  let client: Deno.HttpClient | undefined;
  if (a.caPem || a.certPem) {
    try {
      client = Deno.createHttpClient({
        ...(a.caPem ? { caCerts: [a.caPem] } : {}),
        ...(a.certPem && a.keyPem ? { cert: a.certPem, key: a.keyPem } : {}),
      });
    } catch (e) {
      throw new KubeConfigError(
        "certificate-authority / client certificate",
        `unusable PEM: ${messageOf(e)}`,
      );
    }
  }
  return {
    async get(url, headers) {
      try {
        const res = await fetch(url, { headers, client, signal: AbortSignal.timeout(timeoutMs) });
        return { status: res.status, body: await res.text() };
      } catch (e) {
        throw failure(url, e, timeoutMs);
      }
    },
    close: () => client?.close(),
  };
}

function insecureTransport(a: KubeAccess, timeoutMs: number): Transport {
  return {
    async get(url, headers) {
      // Loaded here so that only kubeconfigs with insecure-skip-tls-verify pay for node's https.
      const https = await import("node:https");
      return await new Promise<HttpAnswer>((resolve, reject) => {
        const fail = (e: unknown) => reject(failure(url, e, timeoutMs));
        const req = https.request(url, {
          headers,
          agent: false,
          rejectUnauthorized: false,
          cert: a.certPem,
          key: a.keyPem,
          signal: AbortSignal.timeout(timeoutMs),
        }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => body += chunk);
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          res.on("error", fail);
        });
        req.on("error", fail);
        req.end();
      });
    },
    close() {},
  };
}

/** Sorts a thrown fetch or socket error into timeout, TLS trouble, or an unreachable server. */
function failure(url: string, e: unknown, timeoutMs: number): KubeRequestError {
  const name = e instanceof Error || e instanceof DOMException ? e.name : "";
  if (name === "TimeoutError" || name === "AbortError") {
    return new KubeRequestError(url, "Timeout", `no answer within ${timeoutMs} ms`);
  }
  // Deno puts the cause's text after "error sending request for url (...)"; the URL is already ours to name.
  const text = messageOf((e as { cause?: unknown })?.cause ?? e);
  const at = text.indexOf("client error");
  const detail = at >= 0 ? text.slice(at) : text;
  if (/certificate|handshake|alert|UnknownIssuer|self[- ]signed/i.test(detail)) {
    return new KubeRequestError(url, "Tls", `${detail} (check the CA and the client certificate settings)`);
  }
  return new KubeRequestError(url, "Unreachable", detail);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
