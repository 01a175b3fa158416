/**
 * Errors of the Kubernetes client.
 *
 * They never carry credentials: a message names the URL, the status and the server's own words only.
 */

/** The plugin's Kubernetes settings, a kubeconfig or a credential file are wrong or unreadable. */
export class KubeConfigError extends Error {
  /**
   * @param field the offending setting as the user wrote it, e.g. `policy.k8s_api_root` or
   *   `kubeconfig /etc/cni/net.d/anchor-kubeconfig: users[0].user.client-key`
   */
  constructor(readonly field: string, readonly detail: string) {
    super(`kubernetes settings: ${field}: ${detail}`);
    this.name = "KubeConfigError";
  }
}

/**
 * An environment variable the client reads (KUBERNETES_SERVICE_HOST, _PORT) is not UTF-8 text.
 * mod/kube stays free of CNI, so it says so through `environment`, which the CNI layer maps to code 4.
 */
export class KubeEnvironmentError extends Error {
  constructor(readonly environment: string) {
    super(`${environment} is not valid UTF-8 text`);
    this.name = "KubeEnvironmentError";
  }
}

/** Why a request to the API server failed, in words a caller can branch on. */
export type KubeFailure =
  /** TCP connect failed (refused, no route, name not resolved). */
  | "Unreachable"
  /** Nothing answered within the timeout. */
  | "Timeout"
  /** The TLS handshake failed: wrong CA, name mismatch, or a rejected client certificate. */
  | "Tls"
  /** The server answered with a non-2xx status; `status` and `reason` say which. */
  | "Status"
  /** A 2xx answer that is not the JSON object we asked for. */
  | "BadResponse";

/**
 * A request to the API server failed.
 *
 * `temporary` is true when trying again later may work (unreachable, timeout, 429, 5xx); the CNI layer
 * turns that into code 11. 401/403 and TLS failures are not temporary: they need an operator.
 */
export class KubeRequestError extends Error {
  readonly temporary: boolean;

  constructor(
    readonly url: string,
    readonly failure: KubeFailure,
    readonly detail: string,
    /** The HTTP status when the server answered. */
    readonly status?: number,
    /** The `reason` of the server's Status object (`NotFound`, `Forbidden`, ...), when it sent one. */
    readonly reason?: string,
  ) {
    const what = status === undefined ? failure : `${status}${reason ? ` ${reason}` : ""}`;
    super(`kubernetes API GET ${url}: ${what}: ${detail}`);
    this.name = "KubeRequestError";
    this.temporary = failure === "Unreachable" || failure === "Timeout" ||
      (status !== undefined && (status === 429 || status >= 500));
  }
}
