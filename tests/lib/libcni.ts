/**
 * A small stand-in for libcni, the client containerd, CRI-O and podman use: it runs a conflist
 * the way they do — a VERSION probe of each plugin first, ADD down the chain with prevResult,
 * DEL up the chain with the cached result, CHECK, GC with the valid attachments — through real
 * processes (tests/lib/plugin.ts), so our plugins meet exactly the calls a runtime makes.
 */
import { runPlugin } from "./plugin.ts";
import { isRoleName } from "../../mod/role.ts";

export interface Conflist {
  /** Absent in a version-less conflist: libcni then writes "" into each plugin's config. */
  cniVersion?: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as a runtime sends it, e.g. "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0". */
  cniArgs?: string;
  /** The simulated node the runtime runs in. */
  node?: string;
}

/** A plugin's CNI error, as libcni surfaces it. */
export class PluginError extends Error {
  constructor(readonly plugin: string, readonly code: number, msg: string) {
    super(`${plugin}: code ${code}: ${msg}`);
  }
}

function pluginConf(
  list: Conflist,
  plugin: Record<string, unknown>,
  prevResult?: unknown,
): Record<string, unknown> {
  return {
    ...plugin,
    cniVersion: list.cniVersion ?? "",
    name: list.name,
    ...(prevResult ? { prevResult } : {}),
  };
}

/** libcni's ConfigDecoder: an empty or missing version is 0.1.0. */
function confVersion(list: Conflist): string {
  return list.cniVersion || "0.1.0";
}

/** The result types libcni has: a plugin's result must be in the type of the config's version. */
const RESULT_TYPES = [["0.1.0", "0.2.0"], ["0.3.0", "0.3.1", "0.4.0"], ["1.0.0", "1.1.0"]];

/** What libcni's version.NewResult refuses: a result whose version is not of the config version's type. */
function checkResultVersion(type: string, list: Conflist, result: any): void {
  const supported = RESULT_TYPES.find((t) => t.includes(confVersion(list)))!;
  if (!supported.includes(result?.cniVersion)) {
    throw new PluginError(
      type,
      -1,
      `result type supports [${supported.join(" ")}] but unmarshalled CNIVersion is ${
        JSON.stringify(result?.cniVersion)
      }`,
    );
  }
}

async function call(
  plugin: Record<string, unknown>,
  command: string,
  conf: unknown,
  rt: Partial<RuntimeConf>,
): Promise<any> {
  const type = String(plugin.type);
  const r = await runPlugin(type.startsWith("/") ? type : pathOf(type), { command, conf, ...rt });
  if (r.code !== 0) throw new PluginError(type, r.json?.code ?? -1, r.json?.msg ?? (r.stdout + r.stderr));
  return r.json;
}

/** Our plugins run through the launchers; Debian's from /usr/lib/cni, as CNI_PATH would find them. */
function pathOf(type: string): string {
  return isRoleName(type) ? type : `/usr/lib/cni/${type}`;
}

/** libcni's version probe: stdin `{"cniVersion":…}` only, dummy netns and ifname. */
export async function probeVersions(list: Conflist, node?: string): Promise<void> {
  for (const plugin of list.plugins) {
    const info = await call(plugin, "VERSION", { cniVersion: confVersion(list) }, {
      node,
      netns: "dummy",
      ifname: "dummy",
    });
    if (!info.supportedVersions?.includes(confVersion(list))) {
      throw new PluginError(String(plugin.type), 1, `does not support ${confVersion(list)}`);
    }
  }
}

/** ADD down the chain; each plugin gets the previous one's result. */
export async function addNetworkList(list: Conflist, rt: RuntimeConf): Promise<any> {
  await probeVersions(list, rt.node);
  let result: unknown;
  for (const plugin of list.plugins) {
    result = await call(plugin, "ADD", pluginConf(list, plugin, result), rt);
    checkResultVersion(String(plugin.type), list, result);
  }
  return result;
}

/** DEL up the chain, with the cached result as prevResult, as libcni does. */
export async function delNetworkList(list: Conflist, rt: RuntimeConf, cached?: unknown): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) {
    await call(plugin, "DEL", pluginConf(list, plugin, cached), rt);
  }
}

/** CHECK down the chain with the cached result. */
export async function checkNetworkList(list: Conflist, rt: RuntimeConf, cached: unknown): Promise<void> {
  for (const plugin of list.plugins) await call(plugin, "CHECK", pluginConf(list, plugin, cached), rt);
}

/** GC (1.1.0): each plugin gets the attachments that are still alive. */
export async function gcNetworkList(
  list: Conflist,
  valid: { containerID: string; ifname: string }[],
  node?: string,
): Promise<void> {
  for (const plugin of list.plugins) {
    await call(plugin, "GC", { ...pluginConf(list, plugin), "cni.dev/valid-attachments": valid }, { node });
  }
}
