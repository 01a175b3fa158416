/**
 * `anchor install` / `anchor uninstall` flags, each with the environment variable the original
 * DaemonSet used as its fallback, so the same manifest drives either implementation.
 */
import { type Flags, parseCommand, UsageError } from "../cli.ts";
import { type ClusterNetworkItem, parseClusterNetwork } from "./cluster_network.ts";
import type { AnchorMode } from "./render.ts";
import { DEFAULT_STATE_FILE } from "./state.ts";
import { INSTALL_USAGE } from "./usage.ts";

const USAGE = `anchor ${INSTALL_USAGE}`;

/** Everything install and uninstall act on, resolved from flags and environment. */
export interface InstallOptions {
  binDir: string;
  confDir: string;
  confFile: string;
  stateFile: string;
  nodeName: string;
  clusterNetwork: ClusterNetworkItem[];
  createMacvlan: boolean;
  mode: AnchorMode;
  macvlanMode?: string;
  mtu?: number;
  /** Extra subnet -> master entries from --octopus SUBNET=MASTER. */
  octopus: Record<string, string>;
  etcdEndpoints?: string;
  etcdCaFile?: string;
  etcdCertFile?: string;
  etcdKeyFile?: string;
  store?: string;
  serviceIpnet?: string;
  kubeconfig?: string;
  topology?: string;
  logFile?: string;
  logLevel?: string;
  force: boolean;
  dryRun: boolean;
  wait: boolean;
  skipBinaries: boolean;
}

/** The flags; the store ones are those the generated config carries (no username or password). */
const FLAGS: Flags = {
  "bin-dir": { type: "string" },
  "conf-dir": { type: "string" },
  "conf-file": { type: "string" },
  "state-file": { type: "string" },
  "node-name": { type: "string" },
  "cluster-network": { type: "string" },
  "create-macvlan": { type: "boolean" },
  "octopus": { type: "string", multiple: true },
  "mode": { type: "string" },
  "macvlan-mode": { type: "string" },
  "mtu": { type: "string" },
  "etcd-endpoints": { type: "string" },
  "etcd-ca-cert-file": { type: "string" },
  "etcd-cert-file": { type: "string" },
  "etcd-key-file": { type: "string" },
  "store": { type: "string" },
  "service-ipnet": { type: "string" },
  "kubeconfig": { type: "string" },
  "topology": { type: "string" },
  "log-file": { type: "string" },
  "log-level": { type: "string" },
  "force": { type: "boolean" },
  "dry-run": { type: "boolean" },
  "wait": { type: "boolean" },
  "skip-binaries": { type: "boolean" },
};

/**
 * Parses the flags, falling back to the original DaemonSet's variables: NODE_NAME, CLUSTER_NETWORK,
 * CREATE_MACVLAN, ANCHOR_MODE, ETCD_ENDPOINTS, ETCD_CA, ETCD_CERT, ETCD_KEY, SERVICE_CLUSTER_IP_RANGE,
 * CNI_NET_DIR. The node is matched by its Kubernetes name when one is given, else the host name
 * (the original used only the host name, which confused users whose two names differ).
 *
 * @throws UsageError, ClusterNetworkError
 */
export function parseInstallOptions(
  args: string[],
  env: Record<string, string | undefined>,
  usage = USAGE,
): InstallOptions {
  const { values } = parseCommand(args, usage, FLAGS, 0);
  const str = (flag: string, envName?: string): string | undefined => {
    const v = values[flag] as string | undefined;
    return v !== undefined && v !== "" ? v : (envName && env[envName]) || undefined;
  };
  const mode = (str("mode", "ANCHOR_MODE") ?? "octopus") as AnchorMode;
  if (mode !== "octopus" && mode !== "macvlan") {
    throw new UsageError(USAGE, `--mode must be octopus or macvlan, got ${JSON.stringify(mode)}`);
  }
  const mtuText = str("mtu");
  const mtu = mtuText === undefined ? undefined : Number(mtuText);
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw new UsageError(USAGE, `--mtu must be 68-65535, got ${mtuText}`);
  }
  const octopus: Record<string, string> = {};
  for (const pair of (values.octopus as string[] | undefined) ?? []) {
    const [subnet, master, ...rest] = pair.split("=");
    if (!subnet || !master || rest.length) {
      throw new UsageError(USAGE, `--octopus wants SUBNET=MASTER, got ${JSON.stringify(pair)}`);
    }
    octopus[subnet] = master;
  }
  const confDir = (str("conf-dir", "CNI_NET_DIR") ?? "/etc/cni/net.d").replace(/\/+$/, "");
  const confFile = str("conf-file") ?? "10-anchor.conflist";
  if (confFile.includes("/")) {
    throw new UsageError(USAGE, "--conf-file is a file name inside --conf-dir");
  }
  return {
    binDir: (str("bin-dir") ?? "/opt/cni/bin").replace(/\/+$/, ""),
    confDir,
    confFile,
    stateFile: str("state-file") ?? DEFAULT_STATE_FILE,
    nodeName: str("node-name", "NODE_NAME") ?? Deno.hostname(),
    clusterNetwork: parseClusterNetwork(str("cluster-network", "CLUSTER_NETWORK") ?? ""),
    createMacvlan: values["create-macvlan"] === true || env.CREATE_MACVLAN === "true",
    mode,
    macvlanMode: str("macvlan-mode"),
    mtu,
    octopus,
    etcdEndpoints: str("etcd-endpoints", "ETCD_ENDPOINTS"),
    etcdCaFile: str("etcd-ca-cert-file", "ETCD_CA"),
    etcdCertFile: str("etcd-cert-file", "ETCD_CERT"),
    etcdKeyFile: str("etcd-key-file", "ETCD_KEY"),
    store: str("store"),
    serviceIpnet: str("service-ipnet", "SERVICE_CLUSTER_IP_RANGE"),
    kubeconfig: str("kubeconfig"),
    topology: str("topology"),
    logFile: str("log-file"),
    logLevel: str("log-level"),
    force: values.force === true,
    dryRun: values["dry-run"] === true,
    wait: values.wait === true,
    skipBinaries: values["skip-binaries"] === true,
  };
}
