/**
 * octopus with anchor IPAM (file store, in process) beside Debian's macvlan plugin with host-local,
 * both doing the ADD+DEL cycle of one pod on the same simulated node (namespaces made and deleted
 * here; the host namespace is never touched). Wall time per cycle, median of ROUNDS, and the peak
 * resident memory of the plugin processes (GNU time's %M, kB, the largest of the cycle's calls).
 *
 * Run alone: `deno run -A bench/octopus_bench.ts` (prints a table), or through bench/main.ts.
 * BENCH_LOG=FILE makes octopus log each phase there (debug level), to see where a cycle's time goes.
 */
import type { BenchRow } from "./main.ts";
import { sh, TempNetns } from "../tests/lib/netns.ts";
import { binDir } from "../tests/lib/plugin.ts";
import { pluginCall, TIME } from "./plugin_call.ts";

const ROUNDS = 15;

interface Side {
  program: string;
  path: string;
  conf: Record<string, unknown>;
}

/** One plugin call inside the node, under GNU time; returns the peak RSS in kB. */
function call(node: string, pod: string, side: Side, command: string, id: string): Promise<number> {
  return pluginCall({
    program: side.program,
    command,
    containerId: id,
    netns: `/run/netns/${pod}`,
    cniPath: side.path,
    cniArgs: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench-0",
    conf: side.conf,
    node,
    measureMemory: true,
  });
}

async function cycles(node: string, pod: string, side: Side): Promise<{ ms: number; peakKb: number }> {
  const times: number[] = [];
  let peakKb = 0;
  // One untimed cycle first, so neither side pays first-run costs (module cache, page cache) in the median.
  for (let i = -1; i < ROUNDS; i++) {
    const t0 = performance.now();
    peakKb = Math.max(peakKb, await call(node, pod, side, "ADD", `bench-${i + 1}`));
    peakKb = Math.max(peakKb, await call(node, pod, side, "DEL", `bench-${i + 1}`));
    if (i >= 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], peakKb };
}

/** The benchmark rows: the cycle beside the reference, with the peak memory of each. */
export async function run(): Promise<BenchRow[]> {
  try {
    await sh(TIME, "-f", "%M", "true");
  } catch {
    throw new Error(`${TIME} is missing; install Debian's "time" package`);
  }
  const ns = await TempNetns.create(["bench-node", "bench-lan", "bench-pod"]);
  const tmp = await Deno.makeTempDir({ prefix: "octopus-bench-" });
  try {
    const [node, lan, pod] = ns.names;
    await sh("ip", "-n", node, "link", "add", "eth0.2", "type", "veth", "peer", "name", "sw", "netns", lan);
    await sh("ip", "-n", lan, "addr", "add", "10.0.1.1/24", "dev", "sw");
    await sh("ip", "-n", lan, "link", "set", "sw", "up");
    await sh("ip", "-n", node, "link", "set", "eth0.2", "up");
    const { openStore } = await import("../mod/store/mod.ts");
    const store = await openStore({ kind: "file", dir: `${tmp}/store` });
    try {
      await store.put("/anchor/ns/default", "10.0.1.[10-200]");
      await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
    } finally {
      await store.close();
    }
    const ours = await cycles(node, pod, {
      program: `${binDir()}/octopus`,
      path: `${binDir()}:/usr/lib/cni`,
      conf: {
        cniVersion: "1.0.0",
        name: "bench",
        type: "octopus",
        octopus: { "10.0.1.0/24": "eth0.2" },
        args: { cni: { "cni.anchor.org/subnet": "10.0.1.0/24" } },
        ipam: { type: "anchor", store: `${tmp}/store` },
        ...(Deno.env.get("BENCH_LOG") ? { log_file: Deno.env.get("BENCH_LOG"), log_level: "debug" } : {}),
      },
    });
    const ref = await cycles(node, pod, {
      program: "/usr/lib/cni/macvlan",
      path: "/usr/lib/cni",
      conf: {
        cniVersion: "1.0.0",
        name: "bench",
        type: "macvlan",
        master: "eth0.2",
        ipam: {
          type: "host-local",
          ranges: [[{
            subnet: "10.0.1.0/24",
            rangeStart: "10.0.1.10",
            rangeEnd: "10.0.1.200",
            gateway: "10.0.1.1",
          }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: `${tmp}/host-local`,
        },
      },
    });
    return [{
      name: `ADD+DEL cycle, median of ${ROUNDS} (ours: octopus+anchor file store; ref: macvlan+host-local)`,
      ours_ms: ours.ms,
      ref_ms: ref.ms,
      ratio: ours.ms / ref.ms,
      peak_mb: ours.peakKb / 1024,
      note: `reference peak ${
        (ref.peakKb / 1024).toFixed(1)
      } MB; ours run through the deno launcher (no compiled binary here)`,
    }];
  } finally {
    await ns.cleanup();
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  const { toMarkdown } = await import("./main.ts");
  console.log(toMarkdown((await run()).map((r) => ({ suite: "octopus", ...r }))));
}
