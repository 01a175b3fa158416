/**
 * The pod's `cni.anchor.org/subnet` annotation, which names the LAN (and so the master) it joins.
 */
import type { CniEnv, NetConf } from "../cni/mod.ts";
import { configError } from "../cni/mod.ts";

/** The annotation the original octopus read; anchor IPAM reads the same key. */
export const SUBNET_KEY = "cni.anchor.org/subnet";

/**
 * The pod's subnet annotation, or undefined when it has none (a non-anchor IPAM then decides by
 * address). Sources, later winning, as anchor reads them so both plugins agree on one pod:
 * 1. the pod in the Kubernetes API, when the config has `kubernetes`/`policy` (top level, as the
 *    original octopus read them, else the ipam section's) and CNI_ARGS names the pod;
 * 2. the config's `args.cni` (the CNI convention for runtime-supplied args), then `runtimeConfig`.
 *
 * mod/kube is loaded only when the API is asked.
 */
export async function subnetAnnotation(netConf: NetConf, env: CniEnv): Promise<string | undefined> {
  const fromConf = stringIn(netConf.runtimeConfig, "runtimeConfig") ??
    stringIn(netConf.args?.cni, "args.cni");
  if (fromConf !== undefined) return fromConf;
  const namespace = env.args.get("K8S_POD_NAMESPACE"), name = env.args.get("K8S_POD_NAME");
  const ipam = netConf.ipam ?? {};
  const blocks = { kubernetes: netConf.kubernetes ?? ipam.kubernetes, policy: netConf.policy ?? ipam.policy };
  if (!namespace || !name || (blocks.kubernetes === undefined && blocks.policy === undefined)) {
    return undefined;
  }
  const kube = await import("../kube/mod.ts");
  const settings = kube.kubeSettingsFromConfig(blocks);
  if (!settings) return undefined;
  using client = await kube.openKube(settings);
  const pod = await client.getPod(namespace, name);
  return pod ? kube.podMetadata(pod)[SUBNET_KEY] : undefined;
}

function stringIn(block: unknown, field: string): string | undefined {
  if (!block || typeof block !== "object" || Array.isArray(block)) return undefined;
  const v = (block as Record<string, unknown>)[SUBNET_KEY];
  if (v === undefined) return undefined;
  if (typeof v !== "string") {
    throw configError(`${field}["${SUBNET_KEY}"]`, "must be a string, as an annotation is");
  }
  return v.trim() || undefined;
}
