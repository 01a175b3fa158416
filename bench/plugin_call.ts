/**
 * One plugin call for the benchmarks, through the tests' runtime stand-in (tests/lib/plugin.ts),
 * optionally under GNU time for the process's peak resident memory.
 */
import { runPlugin } from "../tests/lib/plugin.ts";
import { denoRunFlags, PLUGIN_V8_FLAGS, shellQuote } from "../mod/install/launchers.ts";

/** GNU time, for peak memory (%M). */
export const TIME = "/usr/bin/time";

export interface BenchCall {
  program: string;
  command: string;
  containerId: string;
  netns: string;
  cniPath: string;
  cniArgs: string;
  conf: unknown;
  /** Run inside this network namespace (a simulated node). */
  node?: string;
  /** Measure peak RSS with GNU time. */
  measureMemory?: boolean;
}

/** Runs the call; throws with the plugin's output when it fails. Returns peak RSS in kB, or 0 unmeasured. */
export async function pluginCall(c: BenchCall): Promise<number> {
  const memFile = c.measureMemory ? await Deno.makeTempFile({ prefix: "bench-mem-" }) : "";
  try {
    const r = await runPlugin(c.program, {
      command: c.command,
      containerId: c.containerId,
      netns: c.netns,
      ifname: "eth0",
      cniArgs: c.cniArgs,
      path: c.cniPath,
      conf: c.conf,
      node: c.node,
      prefix: memFile ? [TIME, "-f", "%M", "-o", memFile] : undefined,
    });
    if (r.code !== 0) throw new Error(`${c.program} ${c.command} ${c.containerId}: ${r.stdout}${r.stderr}`);
    return memFile ? Number((await Deno.readTextFile(memFile)).trim().split("\n").pop()) : 0;
  } finally {
    if (memFile) await Deno.remove(memFile);
  }
}

/**
 * The floor every plugin call is compared with: an empty Deno program behind a launcher shaped like
 * ours (mod/install/launchers.ts: same flags, same config), written into `dir`. Called the way a
 * plugin is (same runtime stand-in, same node namespace), it costs what Deno's start-up and the
 * harness cost, and nothing of ours. Returns the launcher's path.
 */
export async function emptyLauncher(dir: string): Promise<string> {
  await Deno.writeTextFile(`${dir}/empty.ts`, "");
  await Deno.writeTextFile(
    `${dir}/empty`,
    `#!/bin/bash\nexec -a "$0" ${shellQuote(Deno.execPath())} ${denoRunFlags()} ${PLUGIN_V8_FLAGS} ${
      shellQuote(`${dir}/empty.ts`)
    } "$@"\n`,
    { mode: 0o755 },
  );
  return `${dir}/empty`;
}

/**
 * Waits until the machine's CPUs were at least 95% idle over half a second, or `capMs` passed; returns
 * the ms waited. A lab's cleanup leaves the kernel tearing its namespaces down in the background (the
 * netns cleanup workqueue), which otherwise lands on whichever timed phase comes next. Reads the
 * aggregate `cpu` line of /proc/stat (proc(5)): idle and iowait against all jiffies.
 */
export async function untilIdle(capMs = 30_000): Promise<number> {
  const sample = () => {
    const n = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: n[3] + n[4], total: n.reduce((a, b) => a + b, 0) };
  };
  const t0 = performance.now();
  while (performance.now() - t0 < capMs) {
    const a = sample();
    await new Promise((r) => setTimeout(r, 500));
    const b = sample();
    if (b.total > a.total && (b.idle - a.idle) / (b.total - a.total) >= 0.95) break;
  }
  return performance.now() - t0;
}
