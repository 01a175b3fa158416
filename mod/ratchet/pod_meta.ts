/**
 * Where a pod's labels come from: mod/kube's one pod-metadata lookup (the runtime's annotations, else
 * the Kubernetes API), else (or when that does not make the pod eligible) the topology `ratchet apply`
 * wrote to the store, so that runtimes without Kubernetes work the same way.
 */
import { lookupPod } from "../kube/lookup.ts";
import { parsePodLinks } from "../links/parse.ts";
import type { PodLinks } from "../links/types.ts";
import type { Store } from "../store/types.ts";
import type { RatchetConf } from "./conf.ts";
import { KEY, parseRecord } from "./keys.ts";

/** A pod's metadata and what it says about links. */
export interface PodMeta extends PodLinks {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** spec.nodeName, when the API served the pod. */
  nodeName?: string;
  from: "runtime" | "kubernetes" | "store" | "none";
}

interface StorePod {
  node?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
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
  const found = await lookupPod(conf.raw, { namespace, name });
  // As anchor reads its keys: a ratchet key may be a label or an annotation, the annotation winning.
  // A runtime passes annotations only, so there the keys must be annotations.
  const pod = found.source === "none" ? undefined : { ...found, labels: found.meta };
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
    const api = meta(pod.labels, pod.annotations, pod.source);
    if (api.eligible) return api;
  }
  const stored = parseRecord<StorePod>(await store.get(KEY.pod(namespace, name)));
  if (stored) return meta(stored.labels, stored.annotations, "store");
  return pod ? meta(pod.labels, pod.annotations, pod.source) : meta({}, {}, "none");
}
