/**
 * octopus: a macvlan for the pod on whichever of the node's masters carries its subnet.
 * Read as the spec of ADD, DEL and CHECK; the bytes live in mod/netlink, the addresses in IPAM.
 */
import { appendResult, type Result } from "../cni/result.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Invocation, Plugin } from "../cni/skel.ts";
import { log } from "../cni/log.ts";
import { checkIface } from "../iface/check.ts";
import { configureIface } from "../iface/configure.ts";
import { Handle } from "../netlink/handle.ts";
import { isNotFound, NotNetnsError } from "../netlink/errors.ts";
import type { Link } from "../netlink/link.ts";
import { linkAddInNetns } from "../netlink/movein.ts";
import { loadOctopusConf, type MasterEntry, type OctopusConf } from "./config.ts";
import { MasterDownError, MasterMissingError, NoAddressError } from "./errors.ts";
import { ipamAdd, ipamCheck, ipamDel, ipamGc, ipamStatus } from "./ipam.ts";
import { chooseMaster } from "./master.ts";
import { subnetAnnotation } from "./pod.ts";

/**
 * A rollback step for the ADD's AsyncDisposableStack: it runs on failure, newest first; one that
 * fails is logged and the unwinding goes on, so the remaining steps still free what they can and
 * the ADD's own error is what the caller sees.
 */
function undoStep(what: string, step: () => unknown): () => Promise<void> {
  return async () => {
    try {
      await step();
    } catch (e) {
      log.warn("rollback step failed", { step: what, error: (e as Error).message });
    }
  };
}

/** The master's link in the node's namespace, refusing one that is absent or down. */
function usableMaster(host: Handle, entry: MasterEntry): Link {
  const master = host.linkByName(entry.master);
  if (!master) throw new MasterMissingError(entry.master, entry.subnet);
  if (!master.up) throw new MasterDownError(entry.master, entry.subnet);
  return master;
}

async function add({ conf, netConf, env }: Invocation<OctopusConf>): Promise<Result> {
  const inv = { conf, netConf, env };
  const subnet = await subnetAnnotation(netConf, env);
  // A pod for a LAN this node does not serve is refused before anything is allocated.
  if (subnet) chooseMaster(conf.masters, { subnet });

  // Opened first, so they are closed last (after the rollback below has used them), however ADD ends.
  using host = Handle.open();
  using pod = Handle.open(env.netns);
  // Each step's undo is deferred right after the step succeeds; on success the stack is moved out
  // and nothing is undone. Only what this ADD created is ever undone.
  await using rollback = new AsyncDisposableStack();

  const ipam = await ipamAdd(inv);
  // A repeated ADD (a runtime's retry) gets back the address the first, still live, ADD holds:
  // its failure must not release it.
  if (ipam.created) rollback.defer(undoStep("IPAM DEL", () => ipamDel(inv)));
  const ips = ipam.result.ips ?? [];
  if (!ips.length) throw new NoAddressError(conf.ipam.type);
  const entry = chooseMaster(conf.masters, { subnet, addresses: ips.map((ip) => ip.address) });
  const master = usableMaster(host, entry);

  // Created under a temporary name inside the pod, then renamed: the requested name never
  // exists in the node's namespace, where it could clash with a real interface.
  const link = linkAddInNetns(host, pod, {
    kind: "macvlan",
    name: env.ifname,
    master: master.index,
    mode: conf.mode,
    ...(conf.mtu ? { mtu: conf.mtu } : {}),
  });
  rollback.defer(undoStep("delete the macvlan", () => pod.linkDel(link.index)));
  // As the original: the pod answers ARP for addresses it routes, which a macvlan peer may ask it.
  pod.sysctlSet(`net/ipv4/conf/${env.ifname}/proxy_arp`, 1);

  const ours: Result = {
    cniVersion: netConf.cniVersion,
    interfaces: [{ name: env.ifname, mac: link.mac, mtu: link.mtu, sandbox: env.netns }],
    ips: ips.map((ip) => ({ ...ip, interface: 0 })),
    routes: ipam.result.routes ?? [],
    dns: conf.dns ?? ipam.result.dns,
  };
  const configured = configureIface(pod, env.ifname, ours);
  ours.interfaces![0].mac = configured.mac;
  log.info("macvlan ready", {
    master: entry.master,
    subnet: entry.subnet,
    ifname: env.ifname,
    ips: ips.map((i) => i.address),
  });
  rollback.move(); // done: keep everything
  // Placed after other plugins in a chain, octopus adds its interface to what they made.
  return netConf.prevResult ? appendResult(netConf.prevResult, ours) : ours;
}

async function del({ conf, netConf, env }: Invocation<OctopusConf>): Promise<void> {
  // IPAM first, as the original: a stuck link must never keep an address from being released.
  let ipamError: unknown;
  try {
    await ipamDel({ conf, netConf, env });
  } catch (e) {
    ipamError = e;
  }
  if (env.netns) removeLink(env.netns, env.ifname);
  if (ipamError) throw ipamError;
}

/** Deletes the pod's macvlan; a namespace or link that is already gone is success (DEL may repeat). */
function removeLink(netns: string, ifname: string): void {
  let opened: Handle;
  try {
    opened = Handle.open(netns);
  } catch (e) {
    if (isNotFound(e) || e instanceof NotNetnsError) return;
    throw e;
  }
  using pod = opened;
  const link = pod.linkByName(ifname);
  // Only a macvlan is ours to delete; another plugin's interface of the same name is left alone.
  if (!link || link.kind !== "macvlan") return;
  try {
    pod.linkDel(link.index);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

async function check({ conf, netConf, env }: Invocation<OctopusConf>): Promise<void> {
  const prev = netConf.prevResult;
  if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, "CHECK needs prevResult: the result of ADD");
  const mine =
    prev.interfaces?.findIndex((i) => i.name === env.ifname && (!i.sandbox || i.sandbox === env.netns)) ?? -1;
  if (mine < 0) {
    throw new CniError(
      ErrorCode.CheckFailed,
      `CHECK: prevResult has no interface ${env.ifname} in ${env.netns}`,
    );
  }
  await ipamCheck({ conf, netConf, env });

  const addresses = (prev.ips ?? []).filter((ip) => ip.interface === mine).map((ip) => ip.address);
  const subnet = await subnetAnnotation(netConf, env);
  const entry = chooseMaster(conf.masters, { subnet, addresses });
  // `using`: the node's handle is closed even when opening the pod's namespace throws.
  using host = Handle.open();
  using pod = Handle.open(env.netns);
  const master = usableMaster(host, entry);
  const link = checkIface(pod, env.ifname, prev);
  if (link.kind !== "macvlan") throw checkError(env.ifname, "kind", "macvlan", link.kind ?? "none");
  const mode = link.macvlan?.mode;
  if (mode !== conf.mode) throw checkError(env.ifname, "macvlan mode", conf.mode, String(mode));
  if (link.parentIndex !== master.index) {
    throw checkError(
      env.ifname,
      "master",
      `${entry.master} (index ${master.index})`,
      `index ${link.parentIndex}`,
    );
  }
}

function checkError(ifname: string, what: string, expected: string, actual: string): CniError {
  return new CniError(
    ErrorCode.CheckFailed,
    `CHECK: ${what} of ${ifname} differs`,
    `expected ${expected}, found ${actual}`,
  );
}

/** The octopus plugin for the dispatcher. */
export const octopusPlugin: Plugin<OctopusConf> = {
  loadConf: (netConf) => loadOctopusConf(netConf),
  add,
  del,
  check,
  // octopus keeps no state of its own; only the IPAM allocations can outlive their pods.
  gc: (inv) => ipamGc(inv),
  status: (inv) => ipamStatus(inv),
};
