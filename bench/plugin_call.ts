/**
 * One plugin call for the benchmarks, through the tests' runtime stand-in (tests/lib/plugin.ts),
 * optionally under GNU time for the process's peak resident memory.
 */
import { runPlugin } from "../tests/lib/plugin.ts";
import { denoRunFlags, shellQuote } from "../mod/install/launchers.ts";

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
    `#!/bin/bash\nexec -a "$0" ${shellQuote(Deno.execPath())} ${denoRunFlags()} ${
      shellQuote(`${dir}/empty.ts`)
    } "$@"\n`,
    { mode: 0o755 },
  );
  return `${dir}/empty`;
}
