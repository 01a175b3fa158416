/**
 * ratchet's network configuration: the original ratchet-cni fields (etcd_host, etcd_port, child_path,
 * parent_interface, parent_address, delegate, boot_network) plus anchor's store and Kubernetes
 * fields, validated once, every problem naming its field (CNI code 7).
 */
import { configError, type NetConf } from "../cni/skel.ts";
import { type GcGrace, gcGrace } from "../cni/gc.ts";
import { ifnameProblem } from "../links/names.ts";
import { parseIpOrReason } from "../ip/addr.ts";
import { type StoreSettings, storeSettingsFromConfig } from "../store/settings.ts";
import { StoreSettingsError } from "../store/errors.ts";

/** How long a link waits for its peer when the config does not say. */
export const DEFAULT_CHILD_TIMEOUT_S = 120;
/** The first VNI handed out; the original's counter started here too. */
export const DEFAULT_VNI_START = 11;
/** How long a node's waiter stays with nothing to wait for before it exits, when the config does not say. */
export const DEFAULT_WAITER_IDLE_S = 10;
/** The largest VNI: 24 bits. */
export const MAX_VNI = 0xffffff;

/** A nested plugin config (`delegate`, `boot_network`) with `type` checked and name/cniVersion inherited. */
export type NestedConf = Record<string, unknown> & { type: string; name: string; cniVersion: string };

/** The validated config every verb (and the child) works from. */
export interface RatchetConf {
  cniVersion: string;
  name: string;
  store: StoreSettings;
  /** `child_path` as given; the launcher's sibling is used when it is absent or missing. */
  childPath?: string;
  /** How long each link may wait for its peer (`child_timeout_s`); past it the link is `timed out`. */
  childTimeoutMs: number;
  /** How long the node's waiter idles before it exits (`waiter_idle_s`). */
  waiterIdleMs: number;
  /** Empty when neither the config nor the node's topology record names it. */
  parentInterface: string;
  parentAddress: string;
  /** The plugin ineligible pods go to. */
  delegate: NestedConf;
  /** The plugin every eligible pod gets first; its result is the primary result. */
  bootNetwork?: NestedConf;
  /**
   * This node's name, resolved once per invocation and the same way for ADD, DEL, GC and the waiter:
   * `kubernetes.node_name`, else the host name. Registrations, container records and GC's filter use it.
   */
  node: string;
  /** GC leaves container records younger than `gc_grace_seconds` alone (an ADD may still be in flight). */
  gcGrace: GcGrace;
  vniStart: number;
  /** The config as it came, handed to the child so it reads exactly what ADD read. */
  raw: NetConf;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalString(netConf: NetConf, field: string): string | undefined {
  const v = netConf[field];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw configError(field, `must be a string, got ${JSON.stringify(v)}`);
  return v.trim() || undefined;
}

/** A nested config inherits the top's cniVersion and name, as the original's delegates did through libcni. */
function nested(netConf: NetConf, field: string): NestedConf | undefined {
  const v = netConf[field];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw configError(field, "must be a CNI network config object");
  if (typeof v.type !== "string" || v.type === "" || v.type.includes("/")) {
    throw configError(`${field}.type`, "must name a plugin in CNI_PATH");
  }
  return {
    ...v,
    cniVersion: (v.cniVersion as string) || netConf.cniVersion,
    name: (v.name as string) || netConf.name,
  } as NestedConf;
}

function positiveNumber(netConf: NetConf, field: string, fallback: number, max: number): number {
  const v = netConf[field];
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "string" ? Number(v.trim()) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0 || n > max) {
    throw configError(field, `must be a number from 1 to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * Validates the config. Reads no file and opens no connection, so that DEL works when etcd, the
 * Kubernetes API or the pod are gone.
 *
 * @example
 * loadRatchetConf({ cniVersion: "0.3.1", name: "ratchet-demo", type: "ratchet", etcd_host: "localhost",
 *   etcd_port: "2379", delegate: { type: "flannel" }, boot_network: { type: "loopback" } });
 */
export function loadRatchetConf(netConf: NetConf): RatchetConf {
  if (typeof netConf.name !== "string" || netConf.name === "") throw configError("name", "is required");
  const delegate = nested(netConf, "delegate");
  if (!delegate) {
    throw configError("delegate", "is required: it is the plugin for pods ratchet does not handle");
  }
  let store: StoreSettings;
  try {
    store = storeSettingsFromConfig(netConf);
  } catch (e) {
    if (e instanceof StoreSettingsError) throw configError(e.field, e.problem);
    throw e;
  }
  const parentInterface = optionalString(netConf, "parent_interface") ?? "";
  if (parentInterface && ifnameProblem(parentInterface)) {
    throw configError(
      "parent_interface",
      `is not an interface name: ${JSON.stringify(parentInterface)} (${ifnameProblem(parentInterface)})`,
    );
  }
  const parentAddress = optionalString(netConf, "parent_address") ?? "";
  if (parentAddress) {
    const ip = parseIpOrReason(parentAddress);
    if (typeof ip === "string") throw configError("parent_address", `is not an IP address (${ip})`);
  }
  const kubernetes = netConf.kubernetes, policy = netConf.policy;
  if (kubernetes !== undefined && !isObject(kubernetes)) throw configError("kubernetes", "must be an object");
  if (policy !== undefined && !isObject(policy)) throw configError("policy", "must be an object");
  const nodeName = kubernetes?.node_name;
  if (nodeName !== undefined && (typeof nodeName !== "string" || nodeName.includes("/"))) {
    throw configError("kubernetes.node_name", "must be a node name");
  }
  const conf: RatchetConf = {
    cniVersion: netConf.cniVersion,
    name: netConf.name,
    store,
    childTimeoutMs: positiveNumber(netConf, "child_timeout_s", DEFAULT_CHILD_TIMEOUT_S, 86400) * 1000,
    waiterIdleMs: positiveNumber(netConf, "waiter_idle_s", DEFAULT_WAITER_IDLE_S, 3600) * 1000,
    gcGrace: gcGrace(netConf, ""),
    node: nodeName || Deno.hostname(),
    parentInterface,
    parentAddress,
    delegate,
    vniStart: Math.floor(positiveNumber(netConf, "vni_start", DEFAULT_VNI_START, MAX_VNI)),
    raw: netConf,
  };
  const childPath = optionalString(netConf, "child_path");
  if (childPath) conf.childPath = childPath;
  const bootNetwork = nested(netConf, "boot_network");
  if (bootNetwork) conf.bootNetwork = bootNetwork;
  return conf;
}
