import { CniError, ErrorCode } from "./errors.ts";
import type { CniEnv } from "./env.ts";
import { log } from "./log.ts";
import { parseResult, type Result } from "./result.ts";

/** How to run one delegated plugin (the `delegate`, `boot_network` or an IPAM plugin). */
export interface ExecRequest {
  /** The delegate's config; its `type` names the binary unless `plugin` does. */
  conf: Record<string, unknown> & { type?: string };
  /** The binary to run, when it is not the config's `type`: an IPAM plugin gets the whole network config. */
  plugin?: string;
  command: "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";
  env: CniEnv;
  /** Overrides CNI_IFNAME, for delegates that configure a different interface. */
  ifname?: string;
  timeoutMs?: number;
  /** A command the plugin runs under, e.g. `ip netns exec NODE` to run it inside a simulated node. */
  wrapper?: string[];
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Finds a plugin binary by type in CNI_PATH, as libcni does: the first directory that has it. */
export function findPlugin(type: string, path: string[]): string {
  if (!type || type.includes("/")) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid plugin type ${JSON.stringify(type)}`);
  }
  for (const dir of path) {
    const candidate = `${dir}/${type}`;
    try {
      const st = Deno.statSync(candidate);
      if (st.isFile && (st.mode ?? 0o111) & 0o111) return candidate;
    } catch {
      // not in this directory; try the next
    }
  }
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `plugin ${JSON.stringify(type)} not found in CNI_PATH`,
    path.join(":") || "CNI_PATH is empty",
  );
}

/**
 * Execs a delegated plugin with the config on stdin and the CNI environment, and reads its answer:
 * a result for ADD, nothing for the other verbs. Its CNI error is passed up with its own code
 * and the plugin's name in the message; a crash, timeout or garbage output is code 104.
 */
export async function execPlugin(req: ExecRequest): Promise<Result | undefined> {
  const { stdout, stderr } = await run(req);
  if (req.command !== "ADD") return undefined;
  const type = req.plugin ?? String(req.conf.type ?? "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new CniError(
      ErrorCode.DelegateFailed,
      `plugin ${type} ADD printed no JSON result`,
      tail(stdout || stderr),
    );
  }
  return parseResult(parsed, `result of plugin ${type}`);
}

/**
 * The spec versions a delegated plugin speaks, from its VERSION answer: a caller can tell whether
 * it knows the 1.1 verbs (GC, STATUS) before sending it one.
 */
export async function supportedVersions(req: Omit<ExecRequest, "command">): Promise<string[]> {
  // The probe's stdin is only the version, as libcni sends it; the binary is still the config's type.
  const plugin = req.plugin ?? String(req.conf.type ?? "");
  const { stdout } = await run({
    ...req,
    plugin,
    command: "VERSION",
    conf: { cniVersion: req.conf.cniVersion },
  });
  try {
    const info = JSON.parse(stdout) as { supportedVersions?: unknown };
    return Array.isArray(info.supportedVersions) ? info.supportedVersions.map(String) : [];
  } catch {
    return [];
  }
}

/** Runs the plugin and returns what it printed, or throws its error. */
async function run(req: ExecRequest): Promise<{ stdout: string; stderr: string }> {
  const type = req.plugin ?? String(req.conf.type ?? "");
  const binary = findPlugin(type, req.env.path);
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const env: Record<string, string> = {
    CNI_COMMAND: req.command,
    CNI_CONTAINERID: req.env.containerId,
    CNI_NETNS: req.env.netns,
    CNI_IFNAME: req.ifname ?? req.env.ifname,
    CNI_ARGS: [...req.env.args].map(([k, v]) => `${k}=${v}`).join(";"),
    CNI_PATH: req.env.path.join(":"),
  };
  const started = performance.now();
  const [program, ...args] = [...(req.wrapper ?? []), binary];
  // detached: the plugin leads a process group of its own (setsid), so that a timeout kills
  // everything it started (its IPAM plugin, their children) and not only the direct child.
  const child = new Deno.Command(program, {
    args,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  const timer = setTimeout(() => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // the whole group exited just now
    }
  }, timeoutMs);
  let output: Deno.CommandOutput;
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(req.conf))).catch(() => {});
    await writer.close().catch(() => {});
    output = await child.output();
  } finally {
    clearTimeout(timer);
  }
  const elapsed = Math.round(performance.now() - started);
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  log.debug(`delegate ${type} ${req.command}`, { code: output.code, ms: elapsed });
  if (output.signal === "SIGKILL" && elapsed >= timeoutMs) {
    throw new CniError(
      ErrorCode.DelegateFailed,
      `plugin ${type} ${req.command} timed out after ${timeoutMs} ms`,
    );
  }
  if (!output.success) throw delegateError(type, req.command, stdout, stderr, output.code);
  return { stdout, stderr };
}

function delegateError(
  type: string,
  command: string,
  stdout: string,
  stderr: string,
  code: number,
): CniError {
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === "number") {
      return new CniError(
        e.code,
        `plugin ${type} ${command} failed: ${String(e.msg ?? "")}`,
        typeof e.details === "string" ? e.details : "",
      );
    }
  } catch {
    // not a CNI error object; report what it printed
  }
  return new CniError(
    ErrorCode.DelegateFailed,
    `plugin ${type} ${command} exited with status ${code}`,
    tail(stderr || stdout),
  );
}

function tail(text: string): string {
  return text.length > 500 ? "…" + text.slice(-500) : text;
}
