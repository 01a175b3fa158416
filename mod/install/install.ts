/**
 * `anchor install`: prepare a node for octopus and anchor. In order: the binaries, the shims from
 * CLUSTER_NETWORK (with --create-macvlan), the credentials, then the CNI config last, so a runtime
 * never sees a config whose plugins or shims are not there yet.
 */
import { type ClusterNetworkItem, itemsForNode, MAX_SHIMS, octopusMap, shimName } from "./cluster_network.ts";
import { installTlsFile, writeServiceAccountKubeconfig } from "./creds.ts";
import { ForeignConfigError, installBinaries, ownedOrAbsent, writeFileAtomic } from "./files.ts";
import type { InstallOptions } from "./options.ts";
import { renderConflist } from "./render.ts";
import { readState, writeState } from "./state.ts";

/** What the node's config is made from: CLUSTER_NETWORK or a topology, plus --octopus entries. */
async function nodeItems(
  opts: InstallOptions,
): Promise<{ items: ClusterNetworkItem[]; octopus: Record<string, string> }> {
  if (!opts.topology) {
    const items = itemsForNode(opts.clusterNetwork, opts.nodeName);
    return { items, octopus: { ...octopusMap(items), ...opts.octopus } };
  }
  const { lintTopology, hasErrors, TopologyError } = await import("../../dsl/lint.ts");
  const { renderCniConfig } = await import("../../dsl/render_cni.ts");
  const { subnetGateways } = await import("../../dsl/render_store.ts");
  const { topology, diagnostics } = lintTopology(await Deno.readTextFile(opts.topology), opts.topology);
  if (hasErrors(diagnostics)) throw new TopologyError(opts.topology, diagnostics);
  const gateways = subnetGateways(topology);
  const items = topology.masters.filter((m) => m.node === opts.nodeName).map((m) => ({
    node: m.node,
    master: m.iface,
    ip: m.ip,
    prefix: m.prefix,
    subnet: m.subnet,
    gateway: m.gateway ?? gateways.get(m.subnet),
  }));
  const rendered = renderCniConfig(topology, { node: opts.nodeName })[opts.nodeName]?.["10-anchor.conf"] as
    | { octopus?: Record<string, string> }
    | undefined;
  const fromTopology = rendered?.octopus ?? {};
  return { items, octopus: { ...fromTopology, ...opts.octopus } };
}

/**
 * Runs the install and returns the lines of its report. Re-running it converges on the same node
 * state: existing shims are adopted, not recreated, and moved addresses are not moved twice.
 *
 * @throws ForeignConfigError, ClusterNetworkError, MasterNotFoundError, ShimConflictError, TopologyError
 */
export async function install(
  opts: InstallOptions,
  env: Record<string, string | undefined>,
): Promise<string[]> {
  const report: string[] = [];
  const { items, octopus } = await nodeItems(opts);
  if (opts.mode === "octopus" && Object.keys(octopus).length === 0) {
    throw new Error(
      `no CLUSTER_NETWORK item, topology master or --octopus entry for node ${opts.nodeName}: octopus would have no master`,
    );
  }
  if (items.length > MAX_SHIMS) {
    throw new Error(`node ${opts.nodeName} has ${items.length} items; at most ${MAX_SHIMS} shims`);
  }
  const confPath = `${opts.confDir}/${opts.confFile}`;
  if (!opts.force && !ownedOrAbsent(confPath)) throw new ForeignConfigError(confPath);

  const conf = renderConflist({
    octopus,
    items,
    mode: opts.mode,
    macvlanMode: opts.macvlanMode,
    mtu: opts.mtu,
    etcdEndpoints: opts.etcdEndpoints,
    etcdCaFile: tlsFile(opts, opts.etcdCaFile, "etcd-ca"),
    etcdCertFile: tlsFile(opts, opts.etcdCertFile, "etcd-cert"),
    etcdKeyFile: tlsFile(opts, opts.etcdKeyFile, "etcd-key"),
    store: opts.store,
    serviceIpnet: opts.serviceIpnet,
    kubeconfig: opts.kubeconfig ??
      (opts.dryRun ? undefined : writeServiceAccountKubeconfig(opts.confDir, env)),
    logFile: opts.logFile,
    logLevel: opts.logLevel,
  });
  const text = JSON.stringify(conf, null, 2) + "\n";
  if (opts.dryRun) return [text.trimEnd()];

  if (!opts.skipBinaries) {
    const bins = installBinaries(opts.binDir);
    report.push(
      `${bins.kind === "binary" ? "installed" : "wrote development launchers"} ${bins.paths.join(", ")}`,
    );
  }
  if (opts.createMacvlan && items.length) {
    const { Handle } = await import("../netlink/mod.ts");
    const { ensureShim } = await import("./shim.ts");
    const state = readState(opts.stateFile, opts.nodeName);
    const h = Handle.open();
    try {
      for (const [n, item] of items.entries()) {
        const name = shimName(n);
        const previous = state.shims.find((s) => s.name === name);
        const record = ensureShim(h, name, item, previous, n === 0);
        state.shims = [...state.shims.filter((s) => s.name !== name), record];
        writeState(opts.stateFile, state);
        report.push(`${previous ? "kept" : "created"} ${name} on ${item.master} with ${record.address}`);
      }
    } finally {
      h.close();
    }
    state.configFile = confPath;
    writeState(opts.stateFile, state);
  }
  writeFileAtomic(confPath, text);
  report.push(`wrote ${confPath}`);
  return report;
}

/**
 * The host path of one etcd TLS file, copied next to the config. Plain-http etcd (or none) needs no
 * TLS, so a file the DaemonSet names by default but whose Secret is empty is skipped there; with
 * https it must exist.
 */
function tlsFile(opts: InstallOptions, source: string | undefined, name: string): string | undefined {
  if (!source || !opts.etcdEndpoints) return undefined;
  let exists = true;
  try {
    Deno.statSync(source);
  } catch {
    exists = false;
  }
  if (!exists) {
    if (opts.etcdEndpoints.includes("https://")) {
      throw new Error(`etcd TLS file ${source} (${name}) does not exist`);
    }
    return undefined;
  }
  return opts.dryRun ? source : installTlsFile(opts.confDir, source, name);
}
