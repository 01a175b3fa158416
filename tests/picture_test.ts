/**
 * Pictures of a topology: `ratchet render --to svg|dot` and `ratchet status --svg`, run as the
 * program; the SVG read back by an XML parser (npm @xmldom/xmldom), the DOT by Debian's Graphviz `dot`.
 */
import assert from "node:assert/strict";
import { DOMParser } from "@xmldom/xmldom";
import { lintTopology } from "../dsl/lint.ts";
import { applyTopology } from "../dsl/apply.ts";
import { topologyPicture } from "../dsl/render_picture.ts";
import { CONDITION_COLORS, storePicture } from "../mod/picture/mod.ts";
import { renderSvg } from "../mod/picture/svg.ts";
import { openStore } from "../mod/store/mod.ts";
import { putVxlanState } from "./lib/link_state.ts";
import { binDir } from "./lib/plugin.ts";
import { generateTopology } from "../bench/dsl_bench.ts";

const LAB = new URL("../pod_specs/lab.topo", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

async function ratchet(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(`${binDir()}/ratchet`, { args, cwd: ROOT, stdin: "null" }).output();
  const text = new TextDecoder();
  return { code: r.code, out: text.decode(r.stdout), err: text.decode(r.stderr) };
}

/** Parses XML, failing on any error or warning the parser reports. */
function parseXml(text: string) {
  const problems: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void problems.push(`${level}: ${msg}`) })
    .parseFromString(text, "image/svg+xml");
  assert.deepEqual(problems, [], "the SVG is well-formed XML");
  assert.equal(doc.documentElement?.nodeName, "svg");
  assert.equal(doc.documentElement?.getAttribute("xmlns"), "http://www.w3.org/2000/svg");
  return doc;
}

type Elements = { length: number; item(i: number): any };
const all = (list: Elements) => Array.from({ length: list.length }, (_, i) => list.item(i));

/** What an SVG names: pod names and ids, link ids (with their titles), and each link group's classes. */
function named(svg: string) {
  const doc = parseXml(svg);
  const groups = all(doc.getElementsByTagName("g"));
  const pods = groups.filter((g) => g.getAttribute("class") === "pod");
  const links = groups.filter((g) => /^link /.test(g.getAttribute("class") ?? ""));
  return {
    doc,
    podNames: pods.map((g) => all(g.getElementsByTagName("text"))[0].textContent),
    podIds: pods.map((g) => g.getAttribute("data-pod")),
    links: new Map(links.map((g) => [g.getAttribute("data-link"), g.getAttribute("class")])),
    titles: links.map((g) => all(g.getElementsByTagName("title"))[0].textContent as string),
    texts: all(doc.getElementsByTagName("text")).map((t) => t.textContent as string),
  };
}

Deno.test("render --to svg: well-formed XML naming every pod and link of lab.topo, ends labelled", async () => {
  const r = await ratchet("render", LAB, "--to", "svg");
  assert.equal(r.code, 0, r.err);
  const topo = lintTopology(await Deno.readTextFile(LAB), LAB).topology;
  const svg = named(r.out);
  assert.deepEqual(svg.podNames.sort(), topo.pods.map((p) => p.name).sort());
  assert.deepEqual(svg.podIds.sort(), topo.pods.map((p) => `${p.namespace}/${p.name}`).sort());
  assert.deepEqual([...svg.links.keys()].sort(), topo.links.map((l) => l.id).sort());
  for (const l of topo.links) {
    const title = svg.titles.find((t) => t.startsWith(`${l.id}\n`));
    assert.ok(title, `link ${l.id} has a title`);
    // Without a store, the kind follows the pods' nodes: every link of lab.topo crosses nodes.
    assert.equal(svg.links.get(l.id), "link vxlan state-none");
    for (const e of [l.a, l.b]) {
      const label = e.ip ? `${e.ifname} ${e.ip}` : e.ifname;
      assert.ok(svg.texts.includes(label), `the end ${e.pod}:${label} is labelled`);
    }
  }
  assert.ok(svg.texts.includes("node03") && svg.texts.includes("eth0 192.168.1.224"), "clusters are named");
  assert.ok(svg.titles.some((t) => /vxlan · mtu 1400/.test(t)), "MTU is shown");
});

Deno.test("render --to dot: Graphviz's dot accepts it, with a cluster per node and an edge per link", async () => {
  const r = await ratchet("render", LAB, "--to", "dot");
  assert.equal(r.code, 0, r.err);
  assert.equal((r.out.match(/subgraph "cluster_/g) ?? []).length, 3);
  assert.match(r.out, /"lab-ns\/router" -- "default\/client-v6" \[[^\]]*taillabel="r2 fd00:10::1\/64"/);
  assert.match(r.out, /"lab-ns\/router" -- "lab-ns\/pair-pod" \[[^\]]*style=dashed/);
  const dot = new Deno.Command("dot", { args: ["-Tsvg"], stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = dot.stdin.getWriter();
  await writer.write(new TextEncoder().encode(r.out));
  await writer.close();
  const out = await dot.output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  assert.equal(err, "", "no warnings either");
  // dot keeps each edge's id: every link made it into the laid-out graph.
  const laid = new TextDecoder().decode(out.stdout).replaceAll("&#45;", "-"); // dot writes '-' as a character reference
  const topo = lintTopology(await Deno.readTextFile(LAB), LAB).topology;
  for (const l of topo.links) assert.ok(laid.includes(`id="${l.id}"`), l.id);
});

Deno.test("render --store and status --svg colour each link by its state in the store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rt-picture-" });
  try {
    const store = await openStore({ kind: "file", dir });
    const topo = lintTopology(await Deno.readTextFile(LAB), LAB).topology;
    try {
      await applyTopology(topo, store);
      // One vxlan link with both ends made, one with one end: up and partial; the rest pending.
      await putVxlanState(store, "default/primary-pod/in1/lab-ns/pair-pod/in2", 4242, {
        a: { container_id: "c1", up: true },
        b: { container_id: "c2", up: true },
      });
      await putVxlanState(store, "default/client-v6/in1/lab-ns/router/r2", 4243, {
        a: { container_id: "c3", up: true },
      });
    } finally {
      await store.close();
    }
    const rendered = await ratchet("render", LAB, "--to", "svg", "--store", dir);
    assert.equal(rendered.code, 0, rendered.err);
    const status = await ratchet("status", "--svg", "--store", dir);
    assert.equal(status.code, 0, status.err);
    for (const out of [rendered.out, status.out]) {
      const svg = named(out);
      assert.equal(svg.links.get("default.primary-pod.in1--lab-ns.pair-pod.in2"), "link vxlan state-up");
      assert.equal(svg.links.get("lab-ns.router.r2--default.client-v6.in1"), "link vxlan state-partial");
      assert.equal(svg.links.get("lab-ns.router.r3--lab-ns.pair-pod.in3"), "link vxlan state-pending");
      assert.ok(
        svg.titles.some((t) => /vxlan vni 4242 · mtu 1450 · up/.test(t)),
        "the VNI comes from the state",
      );
      assert.ok(
        ["up", "partial", "pending", "failed", "timed out"].every((s) => svg.texts.includes(s)),
        "the legend",
      );
      assert.equal(svg.links.size, topo.links.length);
      assert.deepEqual(svg.podNames.sort(), topo.pods.map((p) => p.name).sort(), "quiet pods too");
    }
    const dot = await ratchet("render", LAB, "--to", "dot", "--store", dir);
    assert.match(
      dot.out,
      new RegExp(`id="default.primary-pod.in1--lab-ns.pair-pod.in2"[^\\]]*color="${CONDITION_COLORS.up}"`),
    );
    const refused = await ratchet("render", LAB, "--to", "store", "--store", dir);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /colours pictures only/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("failed and timed out links get their own colours; stored text cannot inject markup", () => {
  const picture = topologyPicture(lintTopology(Deno.readTextFileSync(LAB), LAB).topology);
  picture.links[0].condition = "failed";
  picture.links[1].condition = "timed out";
  picture.links[2].condition = "something new";
  const svg = renderSvg(picture);
  const got = named(svg);
  assert.equal(got.links.get(picture.links[0].id), "link vxlan state-failed");
  assert.equal(got.links.get(picture.links[1].id), "link vxlan state-timed-out");
  assert.match(svg, new RegExp(`\\.state-failed \\.line \\{ stroke: ${CONDITION_COLORS.failed}; \\}`));
  assert.match(
    svg,
    new RegExp(`\\.state-timed-out \\.line \\{ stroke: ${CONDITION_COLORS["timed out"]}; \\}`),
  );

  // A hand-edited store record: whatever its text, it is text in the SVG.
  const evil = '<script>alert("x")</script>&';
  const keys = [
    { key: "/ratchet/pods/default/a", value: JSON.stringify({ node: `n1${evil}` }) },
    { key: "/ratchet/pods/default/b", value: JSON.stringify({ node: "n2" }) },
    {
      key: "/ratchet/links/x",
      value: JSON.stringify({
        id: "x",
        a: { namespace: "default", pod: "a", ifname: evil },
        b: { namespace: "default", pod: "b", ifname: "e1" },
      }),
    },
    { key: "/ratchet/links/broken", value: "not json" },
    // A pod linked to itself (lint refuses it in files, a hand edit may store it): drawn as a loop.
    {
      key: "/ratchet/links/loop",
      value: JSON.stringify({
        id: "loop",
        a: { namespace: "default", pod: "b", ifname: "e2" },
        b: { namespace: "default", pod: "b", ifname: "e3" },
      }),
    },
  ].map((kv, i) => ({ ...kv, createRevision: i + 1, modRevision: i + 1, version: 1 }));
  const stored = storePicture(keys);
  assert.equal(stored.links.length, 2, "a record without its ends is left out of the picture");
  const text = renderSvg(stored);
  assert.doesNotMatch(text, /NaN|Infinity/);
  const doc = named(text);
  assert.equal(doc.links.get("loop"), "link veth state-pending");
  assert.equal(doc.doc.getElementsByTagName("script").length, 0);
  assert.ok(doc.texts.includes(evil), "shown as text");
  assert.ok(doc.texts.includes(`n1${evil}`));
});

Deno.test("a 100-node lab (ranked breadth-first) draws every link with finite coordinates", () => {
  const topo = lintTopology(generateTopology(400), "big.topo").topology;
  const svg = renderSvg(topologyPicture(topo));
  assert.doesNotMatch(svg, /NaN|Infinity/);
  const got = named(svg);
  assert.equal(got.links.size, topo.links.length);
  assert.equal(got.podIds.length, topo.pods.length);
});

Deno.test("render --node keeps the node's pods, their links and the pods at the other ends", async () => {
  const r = await ratchet("render", LAB, "--to", "dot", "--node", "node03");
  assert.equal(r.code, 0, r.err);
  assert.equal((r.out.match(/ -- /g) ?? []).length, 3, "router's three links");
  assert.doesNotMatch(r.out, /quiet/);
  assert.match(r.out, /"default\/client-v6"/);
});

Deno.test("no plugin call reads the picture, the DSL, the demo, monkey, the Kubernetes client or an npm package at start-up", async () => {
  // What Deno reads before a call runs: static imports and dynamic import() of literal specifiers
  // alike (deno run loads both; only mod/lazy.ts's specifiers are left for when they run). monkey's
  // command module is a thin lazy wiring that anchor's role module names; monkey itself is not.
  const banned = [
    /^npm:/,
    /\/mod\/picture\//,
    /\/dsl\//,
    /\/mod\/demo\//,
    /\/mod\/monkey\/(?!command\.ts$)/,
    /\/mod\/kube\/client\.ts$/,
  ];
  const check = async (entry: string) => {
    const found = [...await moduleGraph(entry)].filter((s) => banned.some((b) => b.test(s)));
    assert.deepEqual(found, [], entry);
  };
  // Every call loads these before it knows it is a plugin call; the plugins, and the waiter the
  // ratchet plugin starts, then load their own graph.
  const roles = ["ratchet/main", "ratchet/child_main", "anchor/main", "octopus/main"].map((m) =>
    `mod/${m}.ts`
  );
  const plugins = ["ratchet", "anchor", "octopus"].map((r) => `mod/${r}/plugin.ts`);
  for (
    const entry of [
      "main.ts",
      "mod/role.ts",
      "mod/cni/skel.ts",
      ...roles,
      ...plugins,
      "mod/ratchet/waiter_run.ts",
    ]
  ) {
    await check(entry);
  }
  // The guard can fail: the SVG module does hold the library.
  assert.ok([...await moduleGraph("mod/picture/svg.ts")].some((s) => banned[0].test(s)));
});

/**
 * The specifiers `entry` reaches through code, per `deno info --json`: static imports and literal
 * dynamic ones, which `deno run` reads at start-up; not type-only references (lazy()'s `typeof
 * import()`), which it does not.
 */
async function moduleGraph(entry: string): Promise<Set<string>> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", entry], cwd: ROOT }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as {
    roots: string[];
    redirects: Record<string, string>;
    modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length) {
    const spec = stack.pop()!;
    const resolved = info.redirects[spec] ?? spec;
    if (seen.has(resolved)) continue;
    seen.add(resolved);
    for (const d of modules.get(resolved)?.dependencies ?? []) {
      if (d.code) stack.push(d.code.specifier);
    }
  }
  return seen;
}
