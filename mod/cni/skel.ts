import { CniError, ErrorCode, toCniError } from "./errors.ts";
import { type CniEnv, cniVariables, KNOWN_ARGS, readEnv } from "./env.ts";
import { configureLog, log } from "./log.ts";
import { checkNoExecLoop } from "./nesting.ts";
import { parseResult, type Result, toVersion } from "./result.ts";
import { readStdin } from "./stdin.ts";
import {
  compareVersions,
  configVersion,
  CURRENT_VERSION,
  isSupportedVersion,
  SUPPORTED_VERSIONS,
  VERB_MIN_VERSION,
  versionInfo,
} from "./version.ts";

/** The network configuration on stdin, with the fields the spec names and whatever else the plugin reads. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  prevResult?: Result;
  runtimeConfig?: Record<string, unknown>;
  args?: Record<string, unknown>;
  ipam?: Record<string, unknown> & { type?: string };
  dns?: Record<string, unknown>;
  log_file?: string;
  log_level?: string;
  [field: string]: unknown;
}

/** What the dispatcher hands each verb. */
export interface Invocation<C> {
  conf: C;
  netConf: NetConf;
  env: CniEnv;
}

/**
 * A plugin as containernetworking/plugins shapes one: `loadConf` validates and fills defaults
 * (throwing code 7 with the field named), then one function per verb. Plugins never print:
 * they return results or throw, and the dispatcher speaks the protocol.
 */
export interface Plugin<C> {
  loadConf(netConf: NetConf, env: CniEnv): C | Promise<C>;
  add(inv: Invocation<C>): Promise<Result>;
  del(inv: Invocation<C>): Promise<void>;
  check(inv: Invocation<C>): Promise<void>;
  gc?(inv: Invocation<C>): Promise<void>;
  status?(inv: Invocation<C>): Promise<void>;
  /** CNI_ARGS keys this plugin reads, beyond the Kubernetes ones every role knows. */
  knownArgs?: string[];
}

/** Output of one invocation: what goes to stdout and the exit status. */
export interface Outcome {
  stdout: string;
  code: number;
}

/**
 * Runs one CNI invocation: environment and config checks, the verb, version conversion of the
 * result, and the error object. Anything thrown becomes a spec error; no stack trace escapes.
 */
export async function invoke<C>(
  plugin: Plugin<C>,
  role: string,
  env: Record<string, string | undefined>,
  stdin: Uint8Array,
): Promise<Outcome> {
  let cniVersion = CURRENT_VERSION;
  try {
    if (env.CNI_COMMAND === "VERSION") return { stdout: versionInfo(), code: 0 };
    const netConf = decodeConf(stdin);
    // No version, or "" (libcni writes a version-less conflist's "" into each plugin's config), is
    // 0.1.0, as libcni reads it: the runtime then expects the result in the 0.1.0 shape.
    netConf.cniVersion = configVersion(netConf.cniVersion) as string;
    if (typeof netConf.cniVersion === "string") cniVersion = netConf.cniVersion;
    if (!isSupportedVersion(netConf.cniVersion)) {
      throw new CniError(
        ErrorCode.IncompatibleVersion,
        `incompatible CNI version ${JSON.stringify(netConf.cniVersion ?? null)}`,
        `supported versions are ${SUPPORTED_VERSIONS.join(", ")}`,
      );
    }
    const cniEnv = readEnv(env, [...KNOWN_ARGS, ...(plugin.knownArgs ?? [])]);
    const minVersion = VERB_MIN_VERSION[cniEnv.command];
    if (compareVersions(netConf.cniVersion, minVersion) < 0) {
      throw new CniError(
        ErrorCode.IncompatibleVersion,
        `config version ${netConf.cniVersion} does not allow ${cniEnv.command}`,
        `${cniEnv.command} needs ${minVersion} or later`,
      );
    }
    if (netConf.prevResult !== undefined) netConf.prevResult = parseResult(netConf.prevResult, "prevResult");
    configureLog({
      file: netConf.log_file,
      level: netConf.log_level,
      base: { role, container: cniEnv.containerId || undefined },
    });
    log.debug(`${cniEnv.command} start`, { netns: cniEnv.netns, ifname: cniEnv.ifname });
    checkNoExecLoop(role, netConf);
    const conf = await plugin.loadConf(netConf, cniEnv);
    const inv = { conf, netConf, env: cniEnv };
    let stdout = "";
    switch (cniEnv.command) {
      case "ADD":
        stdout = JSON.stringify(toVersion(await plugin.add(inv), netConf.cniVersion));
        break;
      case "DEL":
        await plugin.del(inv);
        break;
      case "CHECK":
        await plugin.check(inv);
        break;
      case "GC":
        await plugin.gc?.(inv);
        break;
      case "STATUS":
        await plugin.status?.(inv);
        break;
    }
    log.info(`${cniEnv.command} done`, { ifname: cniEnv.ifname });
    return { stdout, code: 0 };
  } catch (e) {
    const err = toCniError(e);
    log.error(err.message, { code: err.code });
    return { stdout: JSON.stringify(err.toJSON(cniVersion)), code: 1 };
  }
}

function decodeConf(stdin: Uint8Array): NetConf {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(stdin));
  } catch (e) {
    const why = stdin.length === 0 ? "stdin is empty" : (e as Error).message;
    throw new CniError(
      ErrorCode.DecodingFailure,
      "the network configuration on stdin is not valid JSON",
      why,
    );
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CniError(ErrorCode.DecodingFailure, "the network configuration on stdin is not a JSON object");
  }
  return parsed as NetConf;
}

/** The process entry for the plugin side of a role: stdin and env in, protocol out, exit status. */
export async function pluginMain<C>(plugin: Plugin<C>, role: string): Promise<never> {
  let outcome: Outcome;
  // VERSION reads stdin too: libcni writes a small config to it and expects it consumed.
  const stdin = readStdin();
  try {
    outcome = await invoke(plugin, role, cniVariables(), stdin);
  } catch (e) {
    // A CNI_ variable that is not text (code 4) lands here, before the config was read.
    outcome = { stdout: JSON.stringify(toCniError(e).toJSON(versionOf(stdin))), code: 1 };
  }
  if (outcome.stdout) writeAll(outcome.stdout + "\n");
  Deno.exit(outcome.code);
}

/** The config's version for an error object, when stdin holds a config at all. */
function versionOf(stdin: Uint8Array): string {
  try {
    const v = configVersion((JSON.parse(new TextDecoder().decode(stdin)) as NetConf).cniVersion);
    return isSupportedVersion(v) ? v : CURRENT_VERSION;
  } catch {
    return CURRENT_VERSION;
  }
}

function writeAll(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  while (at < bytes.length) at += Deno.stdout.writeSync(bytes.subarray(at));
}

/** Helper for plugins: a required config field, or code 7 naming it. */
export function configError(field: string, problem: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `invalid network configuration: ${field} ${problem}`);
}
