/**
 * The CNI config `anchor install` writes: a conflist with octopus (or Debian's macvlan) over anchor
 * IPAM, marked as ours so a later run may replace it and nobody else's is clobbered.
 */
import { POD_ANNOTATIONS_CAPABILITY } from "../kube/lookup.ts";
import { PROGRAM_VERSION } from "../role.ts";
import type { ClusterNetworkItem } from "./cluster_network.ts";
import { GENERATED_BY } from "./files.ts";
import type { InstallOptions } from "./options.ts";

/** Which main plugin the node uses, as the original's ANCHOR_MODE named it. */
export type AnchorMode = "octopus" | "macvlan";

/** Everything the rendered config depends on: the install options it uses, and this node's entries. */
export type RenderInput =
  & Partial<
    Pick<
      InstallOptions,
      | "macvlanMode"
      | "mtu"
      | "etcdEndpoints"
      | "etcdCaFile"
      | "etcdCertFile"
      | "etcdKeyFile"
      | "store"
      | "serviceIpnet"
      | "kubeconfig"
      | "logFile"
      | "logLevel"
    >
  >
  & {
    mode: AnchorMode;
    /** octopus: subnet -> master on this node. */
    octopus: Record<string, string>;
    /** This node's items; their addresses become anchor's `node_ips`. */
    items: ClusterNetworkItem[];
    /** Network name; "anchor" as in the original. */
    name?: string;
    cniVersion?: string;
  };

/** The marker value this version writes. */
export function generatedBy(): string {
  return `anchor install ${PROGRAM_VERSION}`;
}

/**
 * The conflist for a node.
 *
 * @example
 * renderConflist({ mode: "octopus", octopus: { "10.0.2.0/24": "eth0.2" }, items: [], store: "/var/lib/cni/anchor" })
 */
export function renderConflist(input: RenderInput): Record<string, unknown> {
  const ipam: Record<string, unknown> = { type: "anchor" };
  if (input.etcdEndpoints) {
    ipam.etcd_endpoints = input.etcdEndpoints;
    if (input.etcdCaFile) ipam.etcd_ca_cert_file = input.etcdCaFile;
    if (input.etcdCertFile) ipam.etcd_cert_file = input.etcdCertFile;
    if (input.etcdKeyFile) ipam.etcd_key_file = input.etcdKeyFile;
  } else if (input.store) {
    ipam.store = input.store;
  }
  if (input.serviceIpnet) ipam.service_ipnet = input.serviceIpnet;
  if (input.items.length) ipam.node_ips = input.items.map((i) => i.ip);
  if (input.kubeconfig) ipam.kubernetes = { kubeconfig: input.kubeconfig };

  const plugin: Record<string, unknown> = input.mode === "octopus"
    ? { type: "octopus", octopus: input.octopus }
    : { type: "macvlan", master: Object.values(input.octopus)[0] };
  // containerd and CRI-O then pass the pod's annotations in runtimeConfig: no API GET for them.
  plugin.capabilities = { [POD_ANNOTATIONS_CAPABILITY]: true };
  if (input.macvlanMode) plugin.mode = input.macvlanMode;
  if (input.mtu) plugin.mtu = input.mtu;
  if (input.kubeconfig && input.mode === "octopus") plugin.kubernetes = { kubeconfig: input.kubeconfig };
  if (input.logFile) plugin.log_file = input.logFile;
  if (input.logLevel) plugin.log_level = input.logLevel;
  plugin.ipam = ipam;
  return {
    cniVersion: input.cniVersion ?? "1.0.0",
    name: input.name ?? "anchor",
    [GENERATED_BY]: generatedBy(),
    plugins: [plugin],
  };
}
