/**
 * The one pod-metadata lookup every role uses (anchor, octopus, ratchet), memoised per invocation.
 *
 * One rule decides where a key's value comes from, the first source that has the key winning:
 * 1. the network config: `runtimeConfig`, then `args.cni` (`cni.anchor.org/*` keys only: the CNI
 *    conventions for values a runtime or an operator injects);
 * 2. the pod's annotations as the runtime passed them, in
 *    `runtimeConfig["io.kubernetes.cri.pod-annotations"]` (containerd and CRI-O do, when the plugin
 *    declares that capability);
 * 3. the pod in the Kubernetes API (labels and annotations merged, annotations winning), asked only
 *    when the runtime passed no annotations, a Kubernetes API is configured (or the plugin runs in a
 *    pod) and CNI_ARGS names the pod.
 *
 * Sources 2 and 3 exclude each other: when the runtime passes annotations, no API GET is made (faster,
 * and needs no RBAC), so labels, spec.nodeName and the controller are then unknown.
 *
 * This module is the cheap entry: the API client (mod/kube/mod.ts) is loaded only when source 3 is used.
 *
 * @example
 * ```ts
 * const pod = await lookupPod(netConf, podRefOf(env));
 * const subnet = pod.meta["cni.anchor.org/subnet"];
 * ```
 * @module
 */
import { type CniEnv, envVar } from "../cni/env.ts";
import { configError, type NetConf } from "../cni/skel.ts";
import type { Pod } from "./types.ts";
import { kubeSettingsFromConfig } from "./settings.ts";
import { lazy } from "../lazy.ts";

// The API client (and the YAML parser behind kubeconfigs) loads only when an API is configured; a
// literal import() would make Deno read its whole graph at every plugin start (mod/lazy.ts).
const loadClient = lazy<typeof import("./client.ts")>(new URL("./client.ts", import.meta.url));

/** The capability a plugin declares to get the pod's annotations from a CRI runtime (containerd, CRI-O). */
export const POD_ANNOTATIONS_CAPABILITY = "io.kubernetes.cri.pod-annotations";

/** The prefix of the keys a network config may set for the pod (source 1). */
export const CONFIG_KEY_PREFIX = "cni.anchor.org/";

/** A pod by its Kubernetes namespace and name. */
export interface PodRef {
  namespace: string;
  name: string;
}

/** A pod's metadata as {@linkcode lookupPod} found it. */
export interface PodMetadata {
  /** Labels from the API; empty when the runtime passed the annotations. */
  labels: Record<string, string>;
  /** From the runtime or the API. */
  annotations: Record<string, string>;
  /** Labels, then annotations, then the config's keys: what a role reads its keys from. */
  meta: Record<string, string>;
  /** spec.nodeName, when the API served the pod and it is scheduled. */
  nodeName?: string;
  /** Where labels and annotations came from; "none" when from nowhere (no API configured, say). */
  source: "runtime" | "kubernetes" | "none";
  /** Set when the API was asked and said 404: the server's URL, for the caller's message. */
  notFoundAt?: string;
  /** The controller's name (a ReplicaSet's Deployment), when asked for and the API knows it. */
  controller?: string;
}

/** K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS, or undefined when either is missing. */
export function podRefOf(env: CniEnv): PodRef | undefined {
  const namespace = env.args.get("K8S_POD_NAMESPACE"), name = env.args.get("K8S_POD_NAME");
  return namespace && name ? { namespace, name } : undefined;
}

/**
 * The `kubernetes` and `policy` blocks that configure the API client: each the ipam section's, else the
 * top level's (the original anchor read the former, the original octopus the latter).
 */
export function kubeBlocks(netConf: NetConf): { kubernetes?: unknown; policy?: unknown } {
  const ipam = netConf.ipam ?? {};
  return { kubernetes: ipam.kubernetes ?? netConf.kubernetes, policy: ipam.policy ?? netConf.policy };
}

/**
 * The pod annotations the runtime passed through the capability, or undefined when it passed none.
 * @throws CniError 7 when the value is not an object of strings.
 */
export function runtimeAnnotations(netConf: NetConf): Record<string, string> | undefined {
  const v = netConf.runtimeConfig?.[POD_ANNOTATIONS_CAPABILITY];
  if (v === undefined || v === null) return undefined;
  const field = `runtimeConfig["${POD_ANNOTATIONS_CAPABILITY}"]`;
  if (typeof v !== "object" || Array.isArray(v)) throw configError(field, "must be an object of annotations");
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== "string") throw configError(`${field}["${k}"]`, "must be a string, as an annotation is");
  }
  return v as Record<string, string>;
}

/**
 * The `cni.anchor.org/*` keys of `args.cni` and `runtimeConfig` (the latter winning).
 * @throws CniError 7 naming the field when a block is not an object or a value not a string.
 */
export function configKeys(netConf: NetConf): Record<string, string> {
  return { ...keysIn(netConf.args?.cni, "args.cni"), ...keysIn(netConf.runtimeConfig, "runtimeConfig") };
}

function keysIn(block: unknown, field: string): Record<string, string> {
  if (block === undefined || block === null) return {};
  if (typeof block !== "object" || Array.isArray(block)) throw configError(field, "must be an object");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(block)) {
    if (!k.startsWith(CONFIG_KEY_PREFIX)) continue;
    if (typeof v !== "string") throw configError(`${field}["${k}"]`, "must be a string, as an annotation is");
    out[k] = v;
  }
  return out;
}

/** What one invocation learnt from the API, shared by every caller in the process (octopus + anchor). */
interface Memo {
  pod?: Promise<{ pod?: Pod; server: string } | undefined>;
  controller?: Promise<string | undefined>;
}

/** Keyed by the invocation's parsed config object, then by pod: one config object is one invocation. */
const memos = new WeakMap<NetConf, Map<string, Memo>>();

function memoFor(netConf: NetConf, ref: PodRef): Memo {
  let byPod = memos.get(netConf);
  if (!byPod) memos.set(netConf, byPod = new Map());
  const key = `${ref.namespace}/${ref.name}`;
  let memo = byPod.get(key);
  if (!memo) byPod.set(key, memo = {});
  return memo;
}

/** Whether anything configures an API client, decided without loading mod/kube's client. */
function apiConfigured(netConf: NetConf): boolean {
  const b = kubeBlocks(netConf);
  return b.kubernetes !== undefined || b.policy !== undefined ||
    envVar("KUBERNETES_SERVICE_HOST") !== undefined;
}

/**
 * The pod's metadata by the rule in this module's documentation. Every call with the same `netConf`
 * object and pod shares one API GET of the pod (and one of its ReplicaSet for the controller).
 *
 * @param ref the pod from CNI_ARGS ({@linkcode podRefOf}); without it only the config and the runtime speak.
 * @param opts.controller also find the pod's controller (anchor records it); only the API knows it.
 * @throws CniError 7 for a malformed config key or runtime annotation; KubeConfigError (code 7) for bad
 *   Kubernetes settings; KubeRequestError (`temporary`: code 11) when the API cannot be asked.
 */
export async function lookupPod(
  netConf: NetConf,
  ref: PodRef | undefined,
  opts: { controller?: boolean } = {},
): Promise<PodMetadata> {
  const overlay = configKeys(netConf);
  const fromRuntime = runtimeAnnotations(netConf);
  if (fromRuntime) {
    return { labels: {}, annotations: fromRuntime, meta: { ...fromRuntime, ...overlay }, source: "runtime" };
  }
  const none: PodMetadata = { labels: {}, annotations: {}, meta: overlay, source: "none" };
  if (!ref || !apiConfigured(netConf)) return none;
  const memo = memoFor(netConf, ref);
  memo.pod ??= getPod(netConf, ref);
  const answer = await memo.pod;
  if (!answer) return none;
  if (!answer.pod) return { ...none, notFoundAt: answer.server };
  const pod = answer.pod;
  const out: PodMetadata = {
    labels: pod.labels,
    annotations: pod.annotations,
    meta: { ...pod.labels, ...pod.annotations, ...overlay },
    source: "kubernetes",
  };
  if (pod.nodeName) out.nodeName = pod.nodeName;
  if (opts.controller) {
    memo.controller ??= withClient(netConf, (client) => client.podController(pod));
    const controller = await memo.controller;
    if (controller) out.controller = controller;
  }
  return out;
}

async function getPod(netConf: NetConf, ref: PodRef) {
  return await withClient(
    netConf,
    async (client) => ({ pod: await client.getPod(ref.namespace, ref.name), server: client.server }),
  );
}

/** Runs `fn` with a client for the configured API; undefined when the settings give no API server. */
async function withClient<T>(
  netConf: NetConf,
  fn: (client: import("./client.ts").KubeClient) => Promise<T>,
): Promise<T | undefined> {
  const settings = kubeSettingsFromConfig(kubeBlocks(netConf));
  if (!settings) return undefined;
  using client = await (await loadClient()).openKube(settings);
  return await fn(client);
}
