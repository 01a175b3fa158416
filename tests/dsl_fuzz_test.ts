import assert from "node:assert/strict";
import { lintTopology } from "../dsl/lint.ts";
import { DEFAULT_TOPOLOGY } from "../dsl/default_topology.ts";
import { parseRanges } from "../mod/ip/ranges.ts";

/** mulberry32: small, seedable, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS_TEXT = [
  DEFAULT_TOPOLOGY,
  `cluster lab
node n1 parent eth0 address 192.168.1.1
node n2 parent eth0
master n1 eth1 10.0.2.8/24 gateway 10.0.2.1
master n2 eth1 fd00:2::8/64 gateway fd00:2::1
gateway 10.0.1.0/24 10.0.1.1
pool default 10.0.1.[2-9], 10.0.2.8, fd00:2::[a-ff], 10.0.1.64/28
pod a node n1
pod b node n2 namespace lab-ns
link a:in1 fd00:9::1/64 -- b:in1 fd00:9::2/64 mtu 1400
link a:in2 -- b:in2
`,
];

/** Pieces a mutation may insert: the grammar's own tokens and the characters that break parsers. */
const PIECES = [
  "link",
  "pod",
  "node",
  "master",
  "pool",
  "gateway",
  "cluster",
  "--",
  "mtu",
  "namespace",
  "parent",
  "address",
  ":",
  "/",
  "[",
  "]",
  "-",
  ",",
  "#",
  " ",
  "\t",
  "\n",
  "\r",
  "::",
  "0",
  "255",
  "256",
  "99999999999999999999",
  "[9-2]",
  "[0-ffff]",
  "/0",
  "/33",
  "/128",
  "1.2.3.4",
  "fd00::",
  "ä",
  "\u0000",
  "\uffff",
  "💥",
  "a:b:c",
  "constructor",
  "__proto__",
  "hasOwnProperty",
];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const steps = 1 + Math.floor(rnd() * 4);
  for (let s = 0; s < steps; s++) {
    const kind = Math.floor(rnd() * 6);
    if (kind === 0 && text.length) { // byte flip
      const i = Math.floor(rnd() * text.length);
      text = text.slice(0, i) + String.fromCharCode(Math.floor(rnd() * 256)) + text.slice(i + 1);
    } else if (kind === 1) { // token swap
      const words = text.split(/( +)/);
      const i = Math.floor(rnd() * words.length), j = Math.floor(rnd() * words.length);
      [words[i], words[j]] = [words[j], words[i]];
      text = words.join("");
    } else if (kind === 2) { // line duplication
      const lines = text.split("\n");
      const i = Math.floor(rnd() * lines.length);
      lines.splice(Math.floor(rnd() * lines.length), 0, lines[i]);
      text = lines.join("\n");
    } else if (kind === 3) { // line deletion
      const lines = text.split("\n");
      lines.splice(Math.floor(rnd() * lines.length), 1);
      text = lines.join("\n");
    } else if (kind === 4) { // random insertion
      const i = Math.floor(rnd() * (text.length + 1));
      text = text.slice(0, i) + pick(PIECES) + text.slice(i);
    } else { // token replaced by a piece
      const words = text.split(" ");
      words[Math.floor(rnd() * words.length)] = pick(PIECES);
      text = words.join(" ");
    }
  }
  return text;
}

Deno.test("fuzz: 10,000 mutated topologies never make the linter throw, and stay fast", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
  const rnd = prng(seed);
  const started = performance.now();
  let slowest = 0, withErrors = 0;
  for (let n = 0; n < 10_000; n++) {
    const input = mutate(SEEDS_TEXT[n % SEEDS_TEXT.length], rnd);
    const t0 = performance.now();
    let result;
    try {
      result = lintTopology(input, "fuzz.topo");
    } catch (e) {
      throw new Error(
        `FUZZ_SEED=${seed} iteration ${n} threw ${(e as Error).stack}\ninput:\n${JSON.stringify(input)}`,
      );
    }
    slowest = Math.max(slowest, performance.now() - t0);
    const lines = input.split("\n").length;
    for (const d of result.diagnostics) {
      // Every diagnostic must point into the file, or an editor cannot show it.
      assert.ok(
        d.line >= 1 && d.line <= lines && d.col >= 1,
        `FUZZ_SEED=${seed} #${n}: bad position ${JSON.stringify(d)}`,
      );
      assert.ok(d.code && d.message, `FUZZ_SEED=${seed} #${n}: empty diagnostic`);
    }
    if (result.diagnostics.some((d) => d.severity === "error")) withErrors++;
  }
  const total = performance.now() - started;
  // Most mutations must be caught, or the mutator (and so this test) is doing nothing.
  assert.ok(withErrors > 5_000, `FUZZ_SEED=${seed}: only ${withErrors} of 10000 mutations had errors`);
  assert.ok(slowest < 250, `FUZZ_SEED=${seed}: one input took ${slowest.toFixed(1)} ms`);
  assert.ok(total < 20_000, `FUZZ_SEED=${seed}: 10000 inputs took ${total.toFixed(0)} ms`);
});

Deno.test("fuzz: the range grammar never throws and every error names a real item", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
  const rnd = prng(seed ^ 0x5eed);
  const base = "10.0.1.[2-9], 10.0.2.8, fd00::[a-ff], 10.0.3.0/28";
  for (let n = 0; n < 10_000; n++) {
    const s = mutate(base, rnd);
    const r = parseRanges(s);
    for (const e of r.errors) {
      assert.equal(
        s.slice(e.index, e.index + e.item.length),
        e.item,
        `FUZZ_SEED=${seed}: ${JSON.stringify(s)}`,
      );
    }
    for (const x of r.ranges) assert.ok(x.start <= x.end);
  }
});
