/**
 * anchor beside Debian's host-local, both run as processes the way a runtime runs an IPAM plugin:
 * ADD latency (median of sequential ADDs) on the file store and on etcd, and the wall time of 200
 * concurrent ADDs (25 processes at a time). host-local keeps its leases in a temp dataDir; etcd is a
 * throwaway on a loopback port. The peak resident memory (GNU time's %M) is of one ADD process.
 *
 * Run alone: `deno run -A bench/anchor_bench.ts` (prints a table), or through bench/main.ts.
 */
import type { BenchRow } from "./main.ts";
import { startEtcd } from "../tests/lib/etcd.ts";
import { TempNetns } from "../tests/lib/netns.ts";
import { binDir } from "../tests/lib/plugin.ts";
import { pluginCall } from "./plugin_call.ts";

const SEQUENTIAL = 20;
const BURST = 200;
const PARALLEL = 25;

interface Side {
  program: string;
  conf: Record<string, unknown>;
}

/** One ADD as a process; resolves with its peak RSS in kB when `measure` is set. */
function add(side: Side, id: string, netns: string, measure = false): Promise<number> {
  return pluginCall({
    program: side.program,
    command: "ADD",
    containerId: id,
    netns,
    cniPath: `${binDir()}:/usr/lib/cni`,
    cniArgs: "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p",
    conf: side.conf,
    measureMemory: measure,
  });
}

async function latency(side: Side, tag: string, netns: string): Promise<{ ms: number; peakKb: number }> {
  const peakKb = await add(side, `${tag}-warm`, netns, true);
  const times: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t0 = performance.now();
    await add(side, `${tag}-${i}`, netns);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], peakKb };
}

/** Wall time of BURST ADDs, PARALLEL at a time. */
async function burst(side: Side, tag: string, netns: string): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < BURST) await add(side, `${tag}-${next++}`, netns);
  }));
  return performance.now() - t0;
}

function anchorSide(storeFields: Record<string, unknown>): Side {
  return {
    program: `${binDir()}/anchor`,
    conf: {
      cniVersion: "1.0.0",
      name: "bench",
      type: "bench",
      args: { cni: { "cni.anchor.org/subnet": "10.8.0.0/16" } },
      // The burst's many processes share 2 cores here; the default 2 s call deadline is for a quiet node.
      ipam: {
        type: "anchor",
        ...storeFields,
        etcd_timeout_ms: storeFields.etcd_endpoints ? 20_000 : undefined,
      },
    },
  };
}

function hostLocalSide(dataDir: string): Side {
  return {
    program: "/usr/lib/cni/host-local",
    conf: {
      cniVersion: "1.0.0",
      name: "bench",
      type: "bench",
      ipam: {
        type: "host-local",
        ranges: [[{
          subnet: "10.8.0.0/16",
          rangeStart: "10.8.0.2",
          rangeEnd: "10.8.3.254",
          gateway: "10.8.0.1",
        }]],
        routes: [{ dst: "0.0.0.0/0" }],
        dataDir,
      },
    },
  };
}

async function seedPool(
  settings: Parameters<typeof import("../mod/store/mod.ts").openStore>[0],
): Promise<void> {
  const { openStore } = await import("../mod/store/mod.ts");
  const store = await openStore(settings);
  try {
    await store.txn([], [{ deletePrefix: "/anchor/" }]);
    await store.put("/anchor/ns/bench", "10.8.0.[2-255],10.8.1.[0-255],10.8.2.[0-255],10.8.3.[0-254]");
    await store.put("/anchor/gw/10.8.0.0/16", "10.8.0.1");
  } finally {
    await store.close();
  }
}

/** The benchmark rows: each measurement of anchor beside host-local's. */
export async function run(): Promise<BenchRow[]> {
  const ns = await TempNetns.create(["anchor-bench"]);
  const tmp = await Deno.makeTempDir({ prefix: "anchor-bench-" });
  const etcd = await startEtcd();
  try {
    const netns = ns.path(0);
    const fileStore = { kind: "file" as const, dir: `${tmp}/store` };
    const etcdStore = { kind: "etcd" as const, endpoints: [etcd.endpoint], timeoutMs: 5000 };
    const rows: BenchRow[] = [];

    const stores = [
      { label: "file store", settings: fileStore, fields: { store: fileStore.dir } },
      { label: "etcd", settings: etcdStore, fields: { etcd_endpoints: etcd.endpoint } },
    ];

    const refLat = await latency(hostLocalSide(`${tmp}/hl-seq`), "seq", netns);
    for (const { label, settings, fields } of stores) {
      await seedPool(settings);
      const ours = await latency(anchorSide(fields), "seq", netns);
      rows.push({
        name: `ADD latency, ${label}, median of ${SEQUENTIAL} sequential processes`,
        ours_ms: ours.ms,
        ref_ms: refLat.ms,
        ratio: ours.ms / refLat.ms,
        peak_mb: ours.peakKb / 1024,
        note: `host-local peak ${(refLat.peakKb / 1024).toFixed(1)} MB; ours through the deno launcher`,
      });
    }

    const refBurst = await burst(hostLocalSide(`${tmp}/hl-burst`), "burst", netns);
    for (const { label, settings, fields } of stores) {
      await seedPool(settings);
      const ms = await burst(anchorSide(fields), "burst", netns);
      rows.push({
        name: `${BURST} concurrent ADDs (${PARALLEL} processes at a time), ${label}, wall time`,
        ours_ms: ms,
        ref_ms: refBurst,
        ratio: ms / refBurst,
        note: `${(BURST / (ms / 1000)).toFixed(0)} ADD/s vs host-local ${
          (BURST / (refBurst / 1000)).toFixed(0)
        } ADD/s`,
      });
    }
    return rows;
  } finally {
    await etcd.stop();
    await ns.cleanup();
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  const { toMarkdown } = await import("./main.ts");
  console.log(toMarkdown((await run()).map((r) => ({ suite: "anchor", ...r }))));
}
