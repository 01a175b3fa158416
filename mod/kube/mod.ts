/**
 * A minimal, read-only Kubernetes API client: the pod metadata anchor and ratchet need.
 *
 * Configured by the original anchor's `kubernetes` and `policy` blocks, or the in-cluster service
 * account. Plain fetch; the YAML parser loads only when a kubeconfig is used. The plugins do not import
 * this module: they call lookup.ts (the one pod-metadata rule), which loads it only when the API is asked.
 *
 * @example
 * ```ts
 * const settings = kubeSettingsFromConfig(conf.ipam);
 * if (settings) {
 *   using kube = await openKube(settings);
 *   const pod = await kube.getPod(args.K8S_POD_NAMESPACE, args.K8S_POD_NAME);
 *   const meta = pod ? podMetadata(pod) : {};
 *   const controller = pod ? await kube.podController(pod) ?? "unknown" : "unknown";
 * }
 * ```
 *
 * @module
 */
export { KubeClient, openKube } from "./client.ts";
export { KubeConfigError, KubeEnvironmentError, type KubeFailure, KubeRequestError } from "./errors.ts";
export { podMetadata } from "./pod.ts";
export {
  DEFAULT_TIMEOUT_MS,
  type KubeOverrides,
  type KubernetesConf,
  type KubeSettings,
  kubeSettingsFromConfig,
  type KubeSettingsOptions,
  type PolicyConf,
  SERVICE_ACCOUNT_DIR,
} from "./settings.ts";
export type { OwnerReference, Pod, ReplicaSet } from "./types.ts";
