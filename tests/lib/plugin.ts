/**
 * Runs the plugins the way a runtime does: as real processes through the dev launchers, with a
 * real argv[0], the CNI environment and the config on stdin. `node` runs the plugin inside a
 * simulated node (a network namespace) through `ip netns exec`.
 */
import { writeLaunchers } from "../../mod/install/launchers.ts";

let launcherDir: string | undefined;

/** The launcher directory for this test process, written once (ratchet, ratchet-child, anchor, octopus). */
export function binDir(): string {
  launcherDir ??= writeLaunchers(Deno.makeTempDirSync({ prefix: "cni-bin-" }));
  return launcherDir;
}

/** CNI_PATH for tests: our launchers first, then Debian's reference plugins. */
export function cniPath(): string {
  return `${binDir()}:/usr/lib/cni`;
}

export interface PluginCall {
  /** CNI_COMMAND; absent (with no `path` either) runs the program with no CNI_ variable, as a person would. */
  command?: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  cniArgs?: string;
  path?: string;
  /** The config: an object is serialised, a string is sent as it is. */
  conf?: unknown;
  /** Run inside this network namespace (a simulated node). */
  node?: string;
  /** A command the plugin runs under, e.g. GNU time for its peak memory. */
  prefix?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface PluginReply {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: any;
}

/**
 * SIGKILLs `child` after `ms` unless the timer is cleared first. A child that exits just as the timer
 * fires (before its output() settles and clears it) is left alone: kill() would throw, uncaught.
 */
export function killAfter(child: Deno.ChildProcess, ms: number): ReturnType<typeof setTimeout> {
  return setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited between the timer firing and its output settling.
    }
  }, ms);
}

/** Runs `role` (a launcher name, or a path to a binary) with the CNI environment of `call`. */
export async function runPlugin(role: string, call: PluginCall): Promise<PluginReply> {
  const program = role.includes("/") ? role : `${binDir()}/${role}`;
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    ...(call.command !== undefined ? { CNI_COMMAND: call.command } : {}),
    ...(call.command !== undefined || call.path !== undefined ? { CNI_PATH: call.path ?? cniPath() } : {}),
    ...(call.containerId !== undefined ? { CNI_CONTAINERID: call.containerId } : {}),
    ...(call.netns !== undefined ? { CNI_NETNS: call.netns } : {}),
    ...(call.ifname !== undefined ? { CNI_IFNAME: call.ifname } : {}),
    ...(call.cniArgs !== undefined ? { CNI_ARGS: call.cniArgs } : {}),
    ...call.env,
  };
  const [cmd, ...args] = [
    ...(call.node ? ["ip", "netns", "exec", call.node] : []),
    ...(call.prefix ?? []),
    program,
  ];
  const child = new Deno.Command(cmd, {
    args,
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = killAfter(child, call.timeoutMs ?? 60_000);
  const stdin = call.conf === undefined
    ? ""
    : typeof call.conf === "string"
    ? call.conf
    : JSON.stringify(call.conf);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output().finally(() => clearTimeout(timer));
  const stdout = new TextDecoder().decode(out.stdout);
  let json: any;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code: out.code, stdout, stderr: new TextDecoder().decode(out.stderr), json };
}
