/**
 * A small but real Kubernetes API server for tests: HTTPS on 127.0.0.1 with a throwaway CA, the API's
 * own JSON shapes (Pod, apps/v1 ReplicaSet, Status) and the API server's authentication rules.
 *
 * node:https rather than Deno.serve because only it can ask for a client certificate, and a real
 * API server authenticates by client certificate as well as by bearer token.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { stringify } from "yaml";
import { makeCa, makeSignedCert } from "./tls.ts";

/** A pod as a test describes it; {@linkcode podObject} turns it into the API's full Pod. */
export interface PodFixture {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  nodeName?: string;
  /** The controller owner, e.g. `{kind: "ReplicaSet", name: "web-5d4f8b"}`. */
  owner?: { kind: string; name: string; apiVersion?: string };
}

/** A ReplicaSet as a test describes it; `owner` is normally its Deployment. */
export interface ReplicaSetFixture {
  namespace: string;
  name: string;
  owner?: { kind: string; name: string; apiVersion?: string };
}

/** Files of a throwaway PKI: a CA, a server cert for 127.0.0.1, a client cert, and an unrelated CA. */
export interface TestPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Signed by the CA, CN=system:node:node01, O=system:nodes. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A self-signed CA that signed nothing here: "the wrong CA". */
  otherCaFile: string;
  /** A cert and key signed by the other CA, so the server must not trust it. */
  strangerCertFile: string;
  strangerKeyFile: string;
}

/** Who a request authenticated as, the way the API server decided it. */
export type RequestAuth = "token" | "client-cert" | "forbidden-token" | "bad-token" | "anonymous";

/** A running fake API server. */
export interface KubeApi {
  /** `https://127.0.0.1:<port>` */
  url: string;
  pki: TestPki;
  caFile: string;
  /** A kubeconfig with this server, its CA as certificate-authority-data, and `token`. */
  kubeconfigPath: string;
  /** A token the server accepts. */
  token: string;
  /** A token the server knows but that may read nothing (403). */
  forbiddenToken: string;
  /** Every request, in order, with how it authenticated. */
  requests: { method: string; path: string; auth: RequestAuth }[];
  /** Adds or replaces a pod; returns the full object the server will serve. */
  setPod(pod: PodFixture): Record<string, unknown>;
  deletePod(namespace: string, name: string): void;
  setReplicaSet(rs: ReplicaSetFixture): Record<string, unknown>;
  /** Stops the server and removes its files. */
  close(): Promise<void>;
}

/**
 * Runs `body` with a server from {@link startKubeApi} and closes it after `body` settles, also when it
 * throws (the error is passed on).
 *
 * @example
 * ```ts
 * await withKubeApi(async (api) => { api.setPod({ namespace: "default", name: "web-0" }); ... });
 * ```
 */
export async function withKubeApi(body: (api: KubeApi) => Promise<unknown>): Promise<void> {
  const api = await startKubeApi();
  try {
    await body(api);
  } finally {
    await api.close();
  }
}

/**
 * Starts the server on a free port. Always `close()` it in a finally.
 *
 * @example
 * ```ts
 * const api = await startKubeApi();
 * try { api.setPod({ namespace: "default", name: "web-0" }); ... } finally { await api.close(); }
 * ```
 */
export async function startKubeApi(): Promise<KubeApi> {
  const dir = await Deno.makeTempDir({ prefix: "kube-api-" });
  try {
    const pki = await makeTestPki(dir);
    const token = randomToken(), forbiddenToken = randomToken();
    const pods = new Map<string, Record<string, unknown>>();
    const replicaSets = new Map<string, Record<string, unknown>>();
    const requests: KubeApi["requests"] = [];

    const server = https.createServer({
      cert: await Deno.readTextFile(pki.serverCertFile),
      key: await Deno.readTextFile(pki.serverKeyFile),
      ca: [await Deno.readTextFile(pki.caFile)],
      // Ask for a certificate but let TLS finish without one: the API server then tries the token.
      requestCert: true,
      rejectUnauthorized: false,
    }, (req: IncomingMessage, res: ServerResponse) => {
      const path = new URL(req.url ?? "/", "https://x").pathname;
      const auth = authenticate(req, token, forbiddenToken);
      requests.push({ method: req.method ?? "", path, auth });
      const [code, body] = answer(req.method ?? "", path, auth, pods, replicaSets);
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((ok, fail) => {
      server.once("error", fail);
      server.listen(0, "127.0.0.1", () => ok());
    });
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    const kubeconfigPath = `${dir}/kubeconfig`;
    await writeKubeconfig(kubeconfigPath, {
      server: url,
      caData: await Deno.readTextFile(pki.caFile),
      token,
    });

    return {
      url,
      pki,
      caFile: pki.caFile,
      kubeconfigPath,
      token,
      forbiddenToken,
      requests,
      setPod(p) {
        const obj = podObject(p);
        pods.set(`${p.namespace}/${p.name}`, obj);
        return obj;
      },
      deletePod: (ns, name) => void pods.delete(`${ns}/${name}`),
      setReplicaSet(rs) {
        const obj = replicaSetObject(rs);
        replicaSets.set(`${rs.namespace}/${rs.name}`, obj);
        return obj;
      },
      async close() {
        server.closeAllConnections();
        await new Promise<void>((ok) => server.close(() => ok()));
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Options for {@linkcode writeKubeconfig}; file fields are paths, `*Data` fields are PEM text. */
export interface KubeconfigSpec {
  server: string;
  caFile?: string;
  caData?: string;
  insecure?: boolean;
  token?: string;
  tokenFile?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
  clientCertData?: string;
  clientKeyData?: string;
}

/** Writes a one-context kubeconfig in the layout kubeadm and kubectl produce. */
export async function writeKubeconfig(path: string, k: KubeconfigSpec): Promise<void> {
  const b64 = (s?: string) => (s === undefined ? undefined : btoa(s));
  const drop = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "lab",
      cluster: drop({
        server: k.server,
        "certificate-authority": k.caFile,
        "certificate-authority-data": b64(k.caData),
        "insecure-skip-tls-verify": k.insecure,
      }),
    }],
    contexts: [{ name: "cni@lab", context: { cluster: "lab", user: "cni" } }],
    "current-context": "cni@lab",
    preferences: {},
    users: [{
      name: "cni",
      user: drop({
        token: k.token,
        tokenFile: k.tokenFile,
        "client-certificate": k.clientCertFile,
        "client-key": k.clientKeyFile,
        "client-certificate-data": b64(k.clientCertData),
        "client-key-data": b64(k.clientKeyData),
      }),
    }],
  };
  await Deno.writeTextFile(path, stringify(doc));
}

/** A TCP listener on 127.0.0.1 that accepts and never answers: an API server that hangs. */
export function startSilentServer(): { url: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const c of listener) conns.push(c);
    } catch { /* closed */ }
  })();
  return {
    url: `https://127.0.0.1:${listener.addr.port}`,
    close() {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed by the peer */ }
      }
      listener.close();
    },
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export function closedPortUrl(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return `https://127.0.0.1:${port}`;
}

/**
 * Generates the PKI into `dir` (tests/lib/tls.ts).
 *
 * @param serverAltName the server certificate's subjectAltName, e.g. `IP:127.0.0.1,DNS:localhost`
 */
export async function makeTestPki(dir: string, serverAltName = "IP:127.0.0.1"): Promise<TestPki> {
  const ca = await makeCa(dir, "ca", "kube-api-test-ca");
  const otherCa = await makeCa(dir, "other-ca", "some-other-ca");
  const serverExt = `subjectAltName=${serverAltName}\nextendedKeyUsage=serverAuth`;
  const server = await makeSignedCert(dir, "server", "/CN=kube-apiserver", serverExt, ca);
  const clientExt = "extendedKeyUsage=clientAuth";
  const client = await makeSignedCert(dir, "client", "/O=system:nodes/CN=system:node:node01", clientExt, ca);
  const stranger = await makeSignedCert(dir, "stranger", "/CN=stranger", clientExt, otherCa);
  return {
    dir,
    caFile: ca.cert,
    serverCertFile: server.cert,
    serverKeyFile: server.key,
    clientCertFile: client.cert,
    clientKeyFile: client.key,
    otherCaFile: otherCa.cert,
    strangerCertFile: stranger.cert,
    strangerKeyFile: stranger.key,
  };
}

/** The full Pod object the API server returns for a fixture. */
export function podObject(p: PodFixture): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...objectMeta(p.namespace, p.name, p.owner),
      labels: p.labels,
      annotations: p.annotations,
    },
    spec: {
      nodeName: p.nodeName,
      containers: [{
        name: "main",
        image: "registry.k8s.io/pause:3.9",
        resources: {},
        terminationMessagePath: "/dev/termination-log",
        imagePullPolicy: "IfNotPresent",
      }],
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "default",
      schedulerName: "default-scheduler",
    },
    status: { phase: "Pending", qosClass: "BestEffort" },
  };
}

/** The full apps/v1 ReplicaSet object the API server returns for a fixture. */
export function replicaSetObject(rs: ReplicaSetFixture): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: objectMeta(rs.namespace, rs.name, rs.owner),
    spec: { replicas: 1, selector: { matchLabels: { app: rs.owner?.name ?? rs.name } }, template: {} },
    status: { replicas: 1, observedGeneration: 1 },
  };
}

function objectMeta(namespace: string, name: string, owner?: PodFixture["owner"]): Record<string, unknown> {
  return {
    name,
    namespace,
    uid: crypto.randomUUID(),
    resourceVersion: String(Math.floor(Math.random() * 1e6)),
    creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    ownerReferences: owner && [{
      apiVersion: owner.apiVersion ?? apiVersionOf(owner.kind),
      kind: owner.kind,
      name: owner.name,
      uid: crypto.randomUUID(),
      controller: true,
      blockOwnerDeletion: true,
    }],
  };
}

function apiVersionOf(kind: string): string {
  if (["ReplicaSet", "Deployment", "StatefulSet", "DaemonSet"].includes(kind)) return "apps/v1";
  if (kind === "Job" || kind === "CronJob") return "batch/v1";
  return "v1";
}

function authenticate(req: IncomingMessage, token: string, forbiddenToken: string): RequestAuth {
  // Like kube-apiserver: a verified client certificate authenticates; otherwise the bearer token decides.
  if ((req.socket as TLSSocket).authorized) return "client-cert";
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  if (!m) return "anonymous";
  if (m[1] === token) return "token";
  return m[1] === forbiddenToken ? "forbidden-token" : "bad-token";
}

type Store = Map<string, Record<string, unknown>>;

function answer(method: string, path: string, auth: RequestAuth, pods: Store, rss: Store): [number, unknown] {
  if (auth === "bad-token") return [401, status(401, "Unauthorized", "Unauthorized")];
  const pod = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
  const rs = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets\/([^/]+)$/.exec(path);
  const hit = pod ?? rs;
  if (!hit) {
    return [
      404,
      status(404, "NotFound", "the server could not find the requested resource", {
        causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
      }),
    ];
  }
  const [ns, name] = [decodeURIComponent(hit[1]), decodeURIComponent(hit[2])];
  const resource = pod ? "pods" : "replicasets";
  if (auth === "anonymous" || auth === "forbidden-token") {
    const user = auth === "anonymous" ? "system:anonymous" : "system:serviceaccount:kube-system:nobody";
    const group = pod ? "" : "apps";
    return [
      403,
      status(
        403,
        "Forbidden",
        `${resource}${
          group ? `.${group}` : ""
        } "${name}" is forbidden: User "${user}" cannot ${method.toLowerCase()} resource "${resource}" in API group "${group}" in the namespace "${ns}"`,
        { name, kind: resource, ...(group ? { group } : {}) },
      ),
    ];
  }
  if (method !== "GET") {
    return [405, status(405, "MethodNotAllowed", "the server does not allow this method")];
  }
  const obj = (pod ? pods : rss).get(`${ns}/${name}`);
  if (!obj) {
    return [
      404,
      status(404, "NotFound", `${resource}${pod ? "" : ".apps"} "${name}" not found`, {
        name,
        kind: resource,
        ...(pod ? {} : { group: "apps" }),
      }),
    ];
  }
  return [200, obj];
}

function status(code: number, reason: string, message: string, details?: unknown): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    details,
    code,
  };
}

function randomToken(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
