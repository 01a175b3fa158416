/**
 * One plugin call as a runtime makes it, for the benchmarks: a process with the CNI environment
 * and the config on stdin, optionally inside a simulated node, optionally under GNU time for its
 * peak resident memory.
 */
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
  const argv = [
    ...(c.node ? ["ip", "netns", "exec", c.node] : []),
    ...(c.measureMemory ? [TIME, "-f", "%M", "-o", memFile] : []),
    c.program,
  ];
  try {
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        CNI_COMMAND: c.command,
        CNI_CONTAINERID: c.containerId,
        CNI_NETNS: c.netns,
        CNI_IFNAME: "eth0",
        CNI_PATH: c.cniPath,
        CNI_ARGS: c.cniArgs,
      },
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(c.conf)));
    await w.close();
    const out = await child.output();
    if (!out.success) {
      const td = new TextDecoder();
      throw new Error(`${c.program} ${c.command} ${c.containerId}: ${td.decode(out.stdout)}${td.decode(out.stderr)}`);
    }
    return c.measureMemory ? Number((await Deno.readTextFile(memFile)).trim().split("\n").pop()) : 0;
  } finally {
    if (memFile) await Deno.remove(memFile);
  }
}
