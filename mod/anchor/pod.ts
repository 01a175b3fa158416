/**
 * Who the pod is and what its annotations say: from the Kubernetes API when one is configured and
 * CNI_ARGS names the pod, overlaid with the `cni.anchor.org/*` keys of the network config.
 */
import { type CniEnv, CniError, ErrorCode } from "../cni/mod.ts";
import type { AnchorConf } from "./config.ts";

/** The pod as ADD sees it. */
export interface PodInfo {
  namespace: string;
  /** Empty when CNI_ARGS does not name the pod (a runtime without Kubernetes). */
  name: string;
  /** The controller's name, or "unknown" as the original wrote when there is none. */
  controller: string;
  /** Labels and annotations merged (annotations win), then the config's keys on top. */
  meta: Record<string, string>;
}

/** What the original recorded for a pod without a controller. */
export const NO_CONTROLLER = "unknown";

/**
 * Gathers the pod's metadata. The API is asked only when Kubernetes is configured and CNI_ARGS carries
 * K8S_POD_NAMESPACE and K8S_POD_NAME; mod/kube is loaded only then.
 * @throws CniError 103 when the API says the pod does not exist; KubeRequestError (temporary: code 11)
 *   when it cannot be reached.
 */
export async function podInfo(conf: AnchorConf, env: CniEnv): Promise<PodInfo> {
  const k8sNamespace = env.args.get("K8S_POD_NAMESPACE") ?? "";
  const name = env.args.get("K8S_POD_NAME") ?? "";
  const pod: PodInfo = {
    namespace: k8sNamespace || conf.namespace || "default",
    name,
    controller: NO_CONTROLLER,
    meta: {},
  };
  if (conf.kube && k8sNamespace && name) {
    const kube = await import("../kube/mod.ts");
    const settings = kube.kubeSettingsFromConfig(conf.kube);
    if (settings) {
      using client = await kube.openKube(settings);
      const found = await client.getPod(k8sNamespace, name);
      if (!found) {
        throw new CniError(
          ErrorCode.NotFound,
          `pod ${k8sNamespace}/${name} does not exist in the Kubernetes API at ${client.server}`,
        );
      }
      pod.meta = kube.podMetadata(found);
      pod.controller = (await client.podController(found)) ?? NO_CONTROLLER;
    }
  }
  pod.meta = { ...pod.meta, ...conf.annotations };
  return pod;
}
