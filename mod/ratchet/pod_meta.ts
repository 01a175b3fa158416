/**
 * Where a pod's labels come from: the Kubernetes API when configured, else (or when the API does
 * not make the pod eligible) the topology `ratchet apply` wrote to the store, so that runtimes
 * without Kubernetes work the same way.
 */
import { configError } from "../cni/mod.ts";
import { parsePodLinks, type PodLinks } from "../links/mod.ts";
import type { Store } from "../store/mod.ts";
import type { RatchetConf } from "./conf.ts";
import { KEY, parseRecord } from "./keys.ts";

/** A pod's metadata and what it says about links. */
export interface PodMeta extends PodLinks {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** spec.nodeName, when the API served the pod. */
  nodeName?: string;
  from: "kubernetes" | "store" | "none";
}

interface StorePod {
  node?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

async function fromKubernetes(conf: RatchetConf, namespace: string, name: string) {
  if (!conf.kube) return undefined;
  const { KubeConfigError, kubeSettingsFromConfig, openKube } = await import("../kube/mod.ts");
  let settings;
  try {
    settings = kubeSettingsFromConfig(conf.kube);
  } catch (e) {
    if (e instanceof KubeConfigError) throw configError(e.field, e.detail);
    throw e;
  }
  if (!settings) return undefined;
  using kube = await openKube(settings).catch((e) => {
    throw e instanceof KubeConfigError ? configError(e.field, e.detail) : e;
  });
  return await kube.getPod(namespace, name);
}

/**
 * The pod's metadata, links parsed. A pod the API serves without ratchet labels can still be made
 * eligible by the topology in the store; the API's spec.nodeName is kept either way.
 */
export async function podMeta(
  conf: RatchetConf,
  store: Store,
  namespace: string,
  name: string,
): Promise<PodMeta> {
  const pod = await fromKubernetes(conf, namespace, name);
  const meta = (
    labels: Record<string, string> = {},
    annotations: Record<string, string> = {},
    from: PodMeta["from"],
  ) => {
    const out: PodMeta = {
      labels,
      annotations,
      from,
      ...parsePodLinks({ name, namespace, labels, annotations }),
    };
    if (pod?.nodeName) out.nodeName = pod.nodeName;
    return out;
  };
  if (pod) {
    const api = meta(pod.labels, pod.annotations, "kubernetes");
    if (api.eligible) return api;
  }
  const stored = parseRecord<StorePod>(await store.get(KEY.pod(namespace, name)));
  if (stored) return meta(stored.labels, stored.annotations, "store");
  return pod ? meta(pod.labels, pod.annotations, "kubernetes") : meta({}, {}, "none");
}
