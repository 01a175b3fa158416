/**
 * The pod's `cni.anchor.org/subnet` annotation, which names the LAN (and so the master) it joins.
 */
import type { CniEnv } from "../cni/env.ts";
import type { NetConf } from "../cni/skel.ts";
import { SUBNET_ANNOTATION } from "../anchor/keys.ts";
import { lookupPod, podRefOf } from "../kube/lookup.ts";

/**
 * The pod's subnet annotation, or undefined when it has none (a non-anchor IPAM then decides by
 * address). Read by mod/kube/lookup.ts's one rule, so octopus and anchor agree on one pod and share
 * one API GET when anchor runs in this process.
 */
export async function subnetAnnotation(netConf: NetConf, env: CniEnv): Promise<string | undefined> {
  const pod = await lookupPod(netConf, podRefOf(env));
  return pod.meta[SUBNET_ANNOTATION]?.trim() || undefined;
}
