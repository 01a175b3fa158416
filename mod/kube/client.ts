import { resolveAccess } from "./access.ts";
import { KubeRequestError } from "./errors.ts";
import { controllerOf, parsePod, parseReplicaSet } from "./pod.ts";
import type { KubeSettings } from "./settings.ts";
import { openTransport, type Transport } from "./transport.ts";
import type { Pod, ReplicaSet } from "./types.ts";

/**
 * A read-only client for the few objects the plugins look at. Close it when done (or `using`).
 *
 * @example
 * ```ts
 * using kube = await openKube(settings);
 * const pod = await kube.getPod("default", "web-0");
 * ```
 */
export class KubeClient implements Disposable {
  /** @internal Use {@linkcode openKube}. */
  constructor(
    /** The API server's base URL. */
    readonly server: string,
    /** `kubernetes.node_name` from the settings, if given. */
    readonly nodeName: string | undefined,
    private readonly transport: Transport,
    private readonly headers: Record<string, string>,
  ) {}

  /** The pod, or undefined when the API server says 404. */
  getPod(namespace: string, name: string): Promise<Pod | undefined> {
    return this.getObject(`/api/v1/namespaces/${seg(namespace)}/pods/${seg(name)}`, parsePod);
  }

  /** The apps/v1 ReplicaSet, or undefined when the API server says 404. */
  getReplicaSet(namespace: string, name: string): Promise<ReplicaSet | undefined> {
    return this.getObject(
      `/apis/apps/v1/namespaces/${seg(namespace)}/replicasets/${seg(name)}`,
      parseReplicaSet,
    );
  }

  /**
   * The name of the pod's controller as the original anchor recorded it in `/anchor/cn/<id>`: the name
   * of the owner with `controller: true`, except that a ReplicaSet is replaced by its own controller
   * (the Deployment). Just the name, no kind, e.g. `web` for a pod of Deployment web.
   *
   * @returns undefined for a pod with no controller (the original then wrote `unknown`). A ReplicaSet
   *   that is gone, or has no controller, yields the ReplicaSet's own name.
   */
  async podController(pod: Pod): Promise<string | undefined> {
    const ref = controllerOf(pod.ownerReferences);
    if (!ref) return undefined;
    if (ref.kind.toLowerCase() !== "replicaset") return ref.name;
    const rs = await this.getReplicaSet(pod.namespace, ref.name);
    return (rs && controllerOf(rs.ownerReferences)?.name) ?? ref.name;
  }

  /** Releases the TLS client. */
  close(): void {
    this.transport.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private async getObject<T>(path: string, parse: (body: unknown) => T | string): Promise<T | undefined> {
    const url = this.server.replace(/\/+$/, "") + path;
    const { status, body } = await this.transport.get(url, this.headers);
    if (status === 404) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    if (status < 200 || status > 299) {
      const s = (json ?? {}) as { reason?: unknown; message?: unknown };
      const detail = typeof s.message === "string" ? s.message : body.slice(0, 200) || "(empty body)";
      throw new KubeRequestError(
        url,
        "Status",
        detail,
        status,
        typeof s.reason === "string" ? s.reason : undefined,
      );
    }
    const parsed = json === undefined ? "the body is not JSON" : parse(json);
    if (typeof parsed === "string") throw new KubeRequestError(url, "BadResponse", parsed, status);
    return parsed;
  }
}

/**
 * Reads the kubeconfig and credential files the settings name and returns a client for that server.
 * Nothing is sent until the first get.
 *
 * @throws KubeConfigError naming the file or field when something is missing or malformed.
 */
export async function openKube(settings: KubeSettings): Promise<KubeClient> {
  const access = await resolveAccess(settings);
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "ratchet-cni" };
  if (access.token) headers.authorization = `Bearer ${access.token}`;
  else if (access.basicAuth) headers.authorization = `Basic ${access.basicAuth}`;
  return new KubeClient(access.server, settings.nodeName, openTransport(access, settings.timeoutMs), headers);
}

function seg(s: string): string {
  return encodeURIComponent(s);
}
