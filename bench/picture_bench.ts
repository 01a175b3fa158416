/**
 * Pictures at lab scale: a generated 1,000-link topology (bench/dsl_bench.ts's generator: 100 nodes,
 * 500 pods, every link across nodes) rendered by `ratchet render --to svg` in a fresh process, goal
 * <= 3 s, beside Graphviz's `dot -Tsvg` on our DOT of the same topology; the layout library's start-up
 * cost; and monkey's page over that topology in chromium: time to the picture, and what a refresh and
 * a click cost the page's main thread.
 *
 * Usage: deno run -A bench/picture_bench.ts
 */
import type { BenchRow } from "./main.ts";
import { generateTopology, measure, median } from "./dsl_bench.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const LINKS = 1000;

export async function run(): Promise<BenchRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "picture-bench-" });
  try {
    const file = `${dir}/lab.topo`, small = `${dir}/small.topo`;
    await Deno.writeTextFile(file, generateTopology(LINKS));
    await Deno.writeTextFile(
      small,
      "node n1 parent eth0\npod a node n1\npod b node n1\nlink a:in1 -- b:in1\n",
    );
    const ratchet = (
      ...args: string[]
    ) => [Deno.execPath(), "run", "-A", `--config=${ROOT}deno.json`, `${ROOT}main.ts`, "ratchet", ...args];

    const svg = await median(ratchet("render", file, "--to", "svg"), 3);
    await Deno.writeTextFile(
      `${dir}/lab.dot`,
      (await measure(ratchet("render", file, "--to", "dot"))).stdout,
    );
    const dot = await median(["dot", "-Tsvg", `${dir}/lab.dot`], 3);
    const smallSvg = await median(ratchet("render", small, "--to", "svg"), 3);
    const smallDot = await median(ratchet("render", small, "--to", "dot"), 3);
    for (const r of [svg, dot, smallSvg, smallDot]) {
      if (r.code !== 0) throw new Error(`a render failed (exit ${r.code})`);
    }

    const { lintTopology } = await import("../dsl/lint.ts");
    const { topologyPicture } = await import("../dsl/render_picture.ts");
    const t0 = performance.now();
    const { layoutPicture } = await import("../mod/picture/layout.ts");
    const load = performance.now() - t0;
    const picture = topologyPicture(lintTopology(await Deno.readTextFile(file), file).topology);
    const t1 = performance.now();
    layoutPicture(picture);
    const layout = performance.now() - t1;

    const page = await monkeyPage(file, dir);
    return [
      {
        name: `render ${LINKS.toLocaleString("en")} links to SVG (deno run)`,
        ours_ms: svg.ms,
        ref_ms: dot.ms,
        peak_mb: svg.mb,
        note: `ref: Graphviz dot -Tsvg on our DOT; CPU ${svg.cpu.toFixed(0)} ms; ${
          (svg.stdout.length / 1024).toFixed(0)
        } KiB; goal <= 3000 ms`,
      },
      {
        name: `layout ${LINKS.toLocaleString("en")} links (in process)`,
        ours_ms: layout,
        note: "dagre, two levels",
      },
      {
        name: "render a 2-pod file to SVG (start-up)",
        ours_ms: smallSvg.ms,
        ref_ms: smallDot.ms,
        peak_mb: smallSvg.mb,
        note: `ref: the same to DOT, which loads no layout library; import of layout.ts + dagre ${
          load.toFixed(1)
        } ms`,
      },
      ...page,
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** monkey over the applied topology, a third of its links up, in chromium. */
async function monkeyPage(file: string, dir: string): Promise<BenchRow[]> {
  const { lintTopology } = await import("../dsl/lint.ts");
  const { applyTopology } = await import("../dsl/apply.ts");
  const { openStore } = await import("../mod/store/mod.ts");
  const { startMonkey } = await import("../mod/monkey/mod.ts");
  const { launchChromium } = await import("../tests/lib/browser.ts");
  const topo = lintTopology(await Deno.readTextFile(file), file).topology;
  const store = await openStore({ kind: "file", dir: `${dir}/store` });
  const server = startMonkey({
    store,
    listen: { hostname: "127.0.0.1", port: 0 },
    token: "bench-token-0123456789",
  });
  const browser = await launchChromium();
  try {
    await applyTopology(topo, store);
    const ns = new Map(topo.pods.map((p) => [p.name, p.namespace]));
    const end = (e: { pod: string; ifname: string }) => `${ns.get(e.pod)}/${e.pod}/${e.ifname}`;
    const up = topo.links.filter((_, i) => i % 3 === 0).map((l) => {
      const [x, y] = [end(l.a), end(l.b)].sort();
      const ends = { [x]: { container_id: "c", up: true }, [y]: { container_id: "d", up: true } };
      return { put: `/ratchet/state/${x}/${y}`, value: JSON.stringify({ kind: "vxlan", vni: 100, ends }) };
    });
    await store.txn([], up);

    const t0 = performance.now();
    const first = await fetch(`${server.url}api/picture`);
    await first.text();
    const firstMs = performance.now() - t0;
    const t1 = performance.now();
    const again = await fetch(`${server.url}api/picture`, {
      headers: { "if-none-match": first.headers.get("etag")! },
    });
    await again.body?.cancel();
    const againMs = performance.now() - t1;
    if (again.status !== 304) throw new Error(`api/picture answered ${again.status} to its own ETag`);

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const t2 = performance.now();
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForSelector("#picture svg g.link");
    const shown = performance.now() - t2;
    // What the page does with new data each refresh: the links table again and every link recoloured.
    const repaint = await page.evaluate(() => {
      const g = globalThis as any;
      const times = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        g.renderLinks();
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b)[2];
    });
    const click = await page.evaluate(() => {
      const g = globalThis as any;
      const path = g.document.querySelector("#picture g.link path.hit");
      const t = performance.now();
      path.dispatchEvent(new g.MouseEvent("click", { bubbles: true }));
      return performance.now() - t;
    });
    const elements = await page.evaluate(() =>
      (globalThis as any).document.querySelectorAll("#picture svg *").length
    );
    return [
      {
        name: `monkey: GET /api/picture, ${LINKS.toLocaleString("en")} links (first, with layout)`,
        ours_ms: firstMs,
        note: `then ${againMs.toFixed(1)} ms for the 304 of each refresh while the shape stays`,
      },
      {
        name: `monkey page: load to picture shown, ${LINKS.toLocaleString("en")} links (chromium)`,
        ours_ms: shown,
        note: `${elements} SVG elements`,
      },
      {
        name: "monkey page: one refresh's repaint (table + recolour), main thread",
        ours_ms: repaint,
        note: `median of 5; a click on a link: ${click.toFixed(1)} ms; a frame is 16.7 ms`,
      },
    ];
  } finally {
    await browser.close();
    await server.shutdown();
    await store.close();
  }
}

if (import.meta.main) {
  for (const row of await run()) console.log(JSON.stringify(row));
}
