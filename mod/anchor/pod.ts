/**
 * Who the pod is and what its annotations say, through mod/kube's one pod-metadata lookup (config keys,
 * then the runtime's annotations, else the Kubernetes API).
 */
import type { CniEnv } from "../cni/env.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { NetConf } from "../cni/skel.ts";
import { lookupPod, podRefOf } from "../kube/lookup.ts";
import type { AnchorConf } from "./config.ts";

/** The pod as ADD sees it. */
export interface PodInfo {
  namespace: string;
  /** Empty when CNI_ARGS does not name the pod (a runtime without Kubernetes). */
  name: string;
  /** The controller's name, or "unknown" as the original wrote when there is none (or only the API knows it). */
  controller: string;
  /** Labels and annotations merged (annotations win), then the config's keys on top. */
  meta: Record<string, string>;
}

/** What the original recorded for a pod without a controller. */
export const NO_CONTROLLER = "unknown";

/**
 * Gathers the pod's metadata by mod/kube/lookup.ts's rule; within one process (octopus running anchor)
 * the pod is fetched at most once.
 * @throws CniError 103 when the API says the pod does not exist; KubeRequestError (temporary: code 11)
 *   when it cannot be reached.
 */
export async function podInfo(conf: AnchorConf, netConf: NetConf, env: CniEnv): Promise<PodInfo> {
  const ref = podRefOf(env);
  const found = await lookupPod(netConf, ref, { controller: true });
  if (found.notFoundAt) {
    throw new CniError(
      ErrorCode.NotFound,
      `pod ${ref!.namespace}/${ref!.name} does not exist in the Kubernetes API at ${found.notFoundAt}`,
    );
  }
  return {
    namespace: env.args.get("K8S_POD_NAMESPACE") || conf.namespace || "default",
    name: env.args.get("K8S_POD_NAME") ?? "",
    controller: found.controller ?? NO_CONTROLLER,
    meta: found.meta,
  };
}
