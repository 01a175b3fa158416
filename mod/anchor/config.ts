/**
 * anchor's network configuration: the original 10-anchor.conf's `ipam` section, read unchanged, plus
 * `store` and `namespace`. The pod's annotation keys are read per ADD by mod/kube/lookup.ts.
 */
import type { CniEnv } from "../cni/env.ts";
import { type GcGrace, gcGrace } from "../cni/gc.ts";
import type { Dns } from "../cni/result.ts";
import { configError, type NetConf } from "../cni/skel.ts";
import { type Cidr, formatCidr, networkOf, parseCidrOrReason } from "../ip/cidr.ts";
import { type IpAddr, parseIpOrReason } from "../ip/addr.ts";
import { kubeBlocks } from "../kube/lookup.ts";
import { type StoreSettings, storeSettingsFromConfig } from "../store/settings.ts";
import { StoreSettingsError } from "../store/errors.ts";

/** The validated configuration every verb works from. */
export interface AnchorConf {
  store: StoreSettings;
  /** The CNI network name; records carry it so that GC of one network leaves others alone. */
  network: string;
  /** This node: `kubernetes.node_name`, else the host name. GC leaves other nodes' records alone. */
  node: string;
  /** The namespace (pool) when CNI_ARGS has no K8S_POD_NAMESPACE; "default" when not set either. */
  namespace?: string;
  serviceIpnet?: Cidr;
  nodeIps: IpAddr[];
  dns?: Dns;
  /** GC keeps records younger than `ipam.gc_grace_seconds` (default 300). */
  gcGrace: GcGrace;
}

/**
 * Validates the config and fills in defaults, naming the field on any error (code 7). Reads no file
 * and opens no connection: DEL must work when the Kubernetes API or the pod is gone.
 */
export function loadAnchorConf(netConf: NetConf, _env: CniEnv): AnchorConf {
  const ipam = netConf.ipam;
  if (!isObject(ipam)) {
    throw configError(
      "ipam",
      "is required: anchor is an IPAM plugin and reads its settings from the ipam section",
    );
  }
  if (typeof netConf.name !== "string" || netConf.name === "") throw configError("name", "is required");
  // Checked here so a bad block is code 7 at once; mod/kube/lookup.ts reads them when it asks the API.
  const { kubernetes, policy } = kubeBlocks(netConf);
  if (kubernetes !== undefined && !isObject(kubernetes)) {
    throw configError("ipam.kubernetes", "must be an object");
  }
  if (policy !== undefined && !isObject(policy)) throw configError("ipam.policy", "must be an object");
  const nodeName = kubernetes?.node_name;
  if (nodeName !== undefined && (typeof nodeName !== "string" || nodeName.includes(","))) {
    throw configError("kubernetes.node_name", "must be a string without commas");
  }
  const conf: AnchorConf = {
    store: storeSettings(ipam),
    network: netConf.name,
    node: nodeName || Deno.hostname(),
    nodeIps: nodeIps(ipam.node_ips),
    gcGrace: gcGrace(ipam, "ipam"),
  };
  if (ipam.namespace !== undefined) {
    if (typeof ipam.namespace !== "string" || !/^[^\s/,]+$/.test(ipam.namespace)) {
      throw configError("ipam.namespace", "must be a namespace name");
    }
    conf.namespace = ipam.namespace;
  }
  if (ipam.service_ipnet !== undefined && ipam.service_ipnet !== "") {
    conf.serviceIpnet = serviceIpnet(ipam.service_ipnet);
  }
  const dns = ipam.dns ?? netConf.dns;
  if (dns !== undefined) {
    if (!isObject(dns)) throw configError(ipam.dns !== undefined ? "ipam.dns" : "dns", "must be an object");
    conf.dns = dns as Dns;
  }
  return conf;
}

function storeSettings(ipam: Record<string, unknown>): StoreSettings {
  try {
    return storeSettingsFromConfig(ipam);
  } catch (e) {
    if (e instanceof StoreSettingsError) throw configError(`ipam.${e.field}`, e.problem);
    throw e;
  }
}

function serviceIpnet(v: unknown): Cidr {
  const c = typeof v === "string" ? parseCidrOrReason(v.trim()) : "must be a string";
  if (typeof c === "string") {
    throw configError("ipam.service_ipnet", `${JSON.stringify(v)} is not a CIDR block: ${c}`);
  }
  const n = networkOf(c);
  if (n.addr !== c.addr) {
    throw configError("ipam.service_ipnet", `${JSON.stringify(v)} has host bits set; write ${formatCidr(n)}`);
  }
  return n;
}

function nodeIps(v: unknown): IpAddr[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw configError("ipam.node_ips", "must be a list of addresses");
  return v.map((s, i) => {
    const ip = typeof s === "string" ? parseIpOrReason(s.trim()) : "not a string";
    if (typeof ip === "string") {
      throw configError(`ipam.node_ips[${i}]`, `${JSON.stringify(s)} is not an address: ${ip}`);
    }
    return ip;
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
