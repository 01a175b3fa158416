/**
 * `deno task bench`: every benchmark of the project in one run, each beside its reference
 * (Debian's Go plugins, `ip -batch`, host-local), written as one Markdown table to
 * bench/results/report.md and printed. Speed goals live here, never in timed tests.
 *
 * Usage: deno task bench [NAME…]   (names: netlink, anchor, octopus, ratchet, dsl, picture)
 */

/** One measured line: our time beside the reference's, with the ratio ours/reference. */
export interface BenchRow {
  name: string;
  ours_ms: number;
  ref_ms?: number;
  ratio?: number;
  peak_mb?: number;
  note?: string;
}

const SUITES: Record<string, () => Promise<{ run(): Promise<BenchRow[]> }>> = {
  netlink: () => import("./netlink_bench.ts"),
  anchor: () => import("./anchor_bench.ts"),
  octopus: () => import("./octopus_bench.ts"),
  ratchet: () => import("./ratchet_bench.ts"),
  dsl: () => import("./dsl_bench.ts"),
  picture: () => import("./picture_bench.ts"),
};

/** Renders rows as the Markdown table README carries. */
export function toMarkdown(rows: (BenchRow & { suite: string })[]): string {
  const fmt = (n?: number, digits = 1) => n === undefined ? "" : n.toFixed(digits);
  const lines = [
    "| suite | benchmark | ours (ms) | reference (ms) | ratio | peak MB | note |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rows.map((r) =>
      `| ${r.suite} | ${r.name} | ${fmt(r.ours_ms)} | ${fmt(r.ref_ms)} | ${
        fmt(r.ratio ?? (r.ref_ms ? r.ours_ms / r.ref_ms : undefined), 2)
      } | ${fmt(r.peak_mb)} | ${r.note ?? ""} |`
    ),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const wanted = Deno.args.length ? Deno.args : Object.keys(SUITES);
  const rows: (BenchRow & { suite: string })[] = [];
  let failed = 0;
  for (const suite of wanted) {
    const load = SUITES[suite];
    if (!load) {
      console.error(`unknown benchmark ${suite}; known: ${Object.keys(SUITES).join(", ")}`);
      Deno.exit(2);
    }
    console.error(`bench: ${suite}…`);
    try {
      for (const row of await (await load()).run()) rows.push({ suite, ...row });
    } catch (e) {
      failed++;
      console.error(`bench: ${suite} failed: ${(e as Error).message}`);
      rows.push({ suite, name: "(failed)", ours_ms: NaN, note: (e as Error).message.slice(0, 120) });
    }
  }
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  const report = [
    `Measured ${
      new Date().toISOString().slice(0, 16)
    }Z on ${navigator.hardwareConcurrency} cores (${cpu}), deno ${Deno.version.deno}.`,
    "",
    toMarkdown(rows),
    "",
  ].join("\n");
  Deno.mkdirSync(new URL("./results", import.meta.url), { recursive: true });
  Deno.writeTextFileSync(new URL("./results/report.md", import.meta.url), report);
  console.log(report);
  Deno.exit(failed ? 1 : 0);
}
