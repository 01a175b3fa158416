import { KubeConfigError, KubeEnvironmentError } from "./errors.ts";

/** The `kubernetes` block of the original anchor config. */
export interface KubernetesConf {
  /** Path of a kubeconfig file: the base layer of the settings. */
  kubeconfig?: string;
  /** API server URL; wins over everything else, as it did in the original. */
  k8s_api_root?: string;
  node_name?: string;
}

/** The `policy` block of the original anchor config; its non-empty fields are applied over the kubeconfig. */
export interface PolicyConf {
  type?: string;
  k8s_api_root?: string;
  k8s_auth_token?: string;
  /** Paths of PEM files. */
  k8s_client_certificate?: string;
  k8s_client_key?: string;
  k8s_certificate_authority?: string;
}

/** Values that replace what the kubeconfig or the service account says. File fields are paths. */
export interface KubeOverrides {
  server?: string;
  token?: string;
  clientCertificate?: string;
  clientKey?: string;
  certificateAuthority?: string;
}

/**
 * Where the API server is and how to reach it, decided from the config without reading any file
 * (so a plugin's `loadConf` stays synchronous and cheap). {@linkcode openKube} does the reading.
 */
export interface KubeSettings {
  /** A kubeconfig path, the base layer. */
  kubeconfig?: string;
  /** The pod's service account, the base layer when there is no kubeconfig and no API root. */
  serviceAccount?: { server: string; dir: string };
  overrides: KubeOverrides;
  /** `kubernetes.node_name`, passed through for callers that need this node's name. */
  nodeName?: string;
  /** Per-request timeout in milliseconds. */
  timeoutMs: number;
}

/** Knobs for {@linkcode kubeSettingsFromConfig}; tests use them to fake an in-cluster environment. */
export interface KubeSettingsOptions {
  timeoutMs?: number;
  /** Environment to look for KUBERNETES_SERVICE_HOST/PORT in; defaults to the process's. */
  env?: Record<string, string | undefined>;
  /** Defaults to {@linkcode SERVICE_ACCOUNT_DIR}. */
  serviceAccountDir?: string;
}

/** Where Kubernetes mounts a pod's service account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Per-request timeout when none is given: a CNI ADD must not hang on a dead API server. */
export const DEFAULT_TIMEOUT_MS = 3000;

/**
 * Decides how to reach the Kubernetes API from a plugin config holding the original anchor's
 * `kubernetes` and `policy` blocks (pass the object that holds them: the net config or its `ipam`).
 *
 * Layers, as the original's client-go did: a kubeconfig, or else the in-cluster service account; then
 * every non-empty `policy` field on top; then `kubernetes.k8s_api_root`.
 *
 * @returns undefined when nothing gives access to an API server (no kubeconfig, no API root, not in a pod).
 * @throws KubeConfigError naming the field when a value has the wrong type or an API root is no URL.
 *
 * @example
 * ```ts
 * const settings = kubeSettingsFromConfig(conf.ipam);
 * const kube = settings && await openKube(settings);
 * ```
 */
export function kubeSettingsFromConfig(
  conf: { kubernetes?: unknown; policy?: unknown },
  options: KubeSettingsOptions = {},
): KubeSettings | undefined {
  const k8s = block(conf.kubernetes, "kubernetes");
  const policy = block(conf.policy, "policy");
  const kubeconfig = text(k8s, "kubernetes", "kubeconfig");
  const nodeName = text(k8s, "kubernetes", "node_name");
  const policyRoot = apiRoot(policy, "policy");
  const overrides: KubeOverrides = {};
  // The original let the `kubernetes` block's API root win over the policy's.
  const server = apiRoot(k8s, "kubernetes") ?? policyRoot;
  if (server) overrides.server = server;
  for (const [key, field] of POLICY_FIELDS) {
    const v = text(policy, "policy", field);
    if (v) overrides[key] = v;
  }

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new KubeConfigError("timeoutMs", `must be a positive number, got ${timeoutMs}`);

  const settings: KubeSettings = { overrides, timeoutMs };
  if (nodeName) settings.nodeName = nodeName;
  if (kubeconfig) settings.kubeconfig = kubeconfig;
  else if (!overrides.server) {
    const sa = inCluster(options.env ?? processEnv(), options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
    if (sa) settings.serviceAccount = sa;
    else if (Object.keys(overrides).length === 0) return undefined;
    else {
      const given = POLICY_FIELDS.filter(([k]) => overrides[k]).map(([, f]) => `policy.${f}`);
      throw new KubeConfigError(
        given.join(", "),
        "given but no API server: " +
          "set kubernetes.kubeconfig or policy.k8s_api_root, or run in a pod with a service account",
      );
    }
  }
  return settings;
}

const POLICY_FIELDS: [Exclude<keyof KubeOverrides, "server">, string][] = [
  ["token", "k8s_auth_token"],
  ["clientCertificate", "k8s_client_certificate"],
  ["clientKey", "k8s_client_key"],
  ["certificateAuthority", "k8s_certificate_authority"],
];

function processEnv(): Record<string, string | undefined> {
  // Only the two names, so a plugin run with --allow-env limited to them still works.
  return {
    KUBERNETES_SERVICE_HOST: readEnv("KUBERNETES_SERVICE_HOST"),
    KUBERNETES_SERVICE_PORT: readEnv("KUBERNETES_SERVICE_PORT"),
  };
}

/** Deno.env.get throws on a value that is not UTF-8; that becomes an error naming the variable. */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    throw new KubeEnvironmentError(name);
  }
}

function inCluster(env: Record<string, string | undefined>, dir: string): KubeSettings["serviceAccount"] {
  const host = env.KUBERNETES_SERVICE_HOST, port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  try {
    Deno.statSync(`${dir}/token`);
  } catch {
    return undefined;
  }
  return { server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`, dir };
}

function block(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new KubeConfigError(name, "must be an object");
  return v as Record<string, unknown>;
}

/** A string field; empty counts as absent, as in the original. */
function text(b: Record<string, unknown>, name: string, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new KubeConfigError(`${name}.${key}`, `must be a string, got ${typeof v}`);
  return v;
}

function apiRoot(b: Record<string, unknown>, name: string): string | undefined {
  const v = text(b, name, "k8s_api_root");
  if (v === undefined) return undefined;
  // Old configs carried the full `https://host:6443/api/v1/`; the original cut it back to the root.
  const root = v.split("/api/")[0].replace(/\/+$/, "");
  return checkServerUrl(root, `${name}.k8s_api_root`);
}

/** Checks that an API server address is an http(s) URL; returns it unchanged. */
export function checkServerUrl(url: string, field: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KubeConfigError(field, `${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new KubeConfigError(field, `${JSON.stringify(url)} must start with https:// or http://`);
  }
  if (u.username || u.password) throw new KubeConfigError(field, "must not carry credentials in the URL");
  return url;
}
