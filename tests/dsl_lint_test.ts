import assert from "node:assert/strict";
import { formatDiagnostic, lintTopology } from "../dsl/lint.ts";
import { lintCommand } from "../dsl/cli.ts";
import { DEFAULT_TOPOLOGY } from "../dsl/default_topology.ts";

/** A file that lints clean; every case appends lines to it. */
const BASE = `cluster lab
node n1 parent eth0 address 192.168.1.1
node n2 parent eth0 address 192.168.1.2
master n1 eth1 10.0.2.8/24 gateway 10.0.2.1
gateway 10.0.1.0/24 10.0.1.1
pool default 10.0.1.[2-9]
pod a node n1
pod b node n2
pod c node n1 namespace other
link a:in1 192.168.2.1/24 -- b:in1 192.168.2.2/24
`;
const BASE_LINES = BASE.split("\n").length - 1;

/**
 * One case per diagnostic. `add` is appended to BASE; a `^` marks the token the diagnostic must
 * point at (it is removed before linting), so line and column are exact.
 */
const CASES: { code: string; add: string; severity?: "warning"; also?: string[] }[] = [
  { code: "syntax", add: "node n3 parent eth0 ^bogus x" },
  { code: "syntax", add: "link ^a:in2 c:in2" },
  { code: "syntax", add: "pod d ^" },
  { code: "syntax", add: "link a:in2 -- ^c-in2" },
  { code: "unknown-statement", add: "^router r1" },
  { code: "bad-name", add: "pod ^Bad_Pod node n1" },
  { code: "bad-name", add: "pod d node n1 namespace ^-x" },
  { code: "bad-ifname", add: "link a:^this-name-is-too-long -- c:in9" },
  { code: "bad-ifname", add: "node n3 parent ^.." },
  { code: "bad-address", add: "node n3 parent eth0 address ^10.0.0.300" },
  { code: "bad-cidr", add: "link a:in2 ^10.9.9.1 -- c:in2" },
  { code: "bad-cidr", add: "gateway ^10.0.7.0/33 10.0.7.1" },
  { code: "bad-mtu", add: "link a:in2 -- c:in2 mtu ^big" },
  { code: "duplicate-name", add: "pod ^a node n2" },
  { code: "duplicate-name", add: "node ^n2 parent eth1" },
  { code: "duplicate-name", add: "cluster ^other" },
  { code: "unknown-node", add: "pod d node ^n9" },
  { code: "unknown-node", add: "master ^n9 eth1 10.0.5.8/24" },
  { code: "unknown-pod", add: "link a:in2 -- ^zz:in1" },
  { code: "duplicate-master", add: "master n1 ^eth1 10.0.3.8/24" },
  { code: "duplicate-subnet", add: "master n1 eth2 ^10.0.2.9/24" },
  { code: "network-address", add: "link a:in2 ^192.168.5.0/24 -- c:in2 192.168.5.1/24" },
  { code: "network-address", add: "master n2 eth1 ^10.0.2.0/24" },
  { code: "network-address", add: "pool other ^10.0.2.[0-3]" },
  { code: "broadcast-address", add: "link a:in2 ^192.168.5.255/24 -- c:in2 192.168.5.1/24" },
  { code: "broadcast-address", add: "gateway 10.0.7.0/24 ^10.0.7.255" },
  { code: "gateway-outside-subnet", add: "gateway 10.0.7.0/24 ^10.0.8.1" },
  { code: "gateway-outside-subnet", add: "master n2 eth1 10.0.2.9/24 gateway ^10.0.3.1" },
  { code: "gateway-conflict", add: "gateway 10.0.2.0/24 ^10.0.2.254" },
  { code: "duplicate-gateway", add: "gateway ^10.0.1.0/24 10.0.1.1" },
  { code: "host-bits", severity: "warning", add: "gateway ^10.0.7.5/24 10.0.7.1" },
  { code: "overlapping-subnets", severity: "warning", add: "gateway ^10.0.2.0/23 10.0.2.1" },
  { code: "duplicate-pool", add: "pool ^default 10.0.1.20" },
  { code: "bad-range", add: "pool other 10.0.1.10, ^10.0.1.[9-2]" },
  { code: "bad-range", add: "pool other ^10.0.1.[2-300]" },
  { code: "pool-outside-subnet", severity: "warning", add: "pool other ^10.0.9.[1-5]" },
  { code: "pool-overlap", severity: "warning", add: "pool other ^10.0.1.[5-6]" },
  { code: "reserved-ifname", add: "link a:^lo -- c:in3" },
  { code: "reserved-ifname", add: "link a:^eth0 -- c:in3" },
  { code: "duplicate-ifname", add: "link a:^in1 -- c:in4" },
  { code: "duplicate-address", add: "link a:in2 192.168.6.1/24 -- c:in2 ^192.168.6.1/24" },
  { code: "duplicate-address", add: "node n3 parent eth0 address ^192.168.1.1" },
  { code: "duplicate-address", add: "link a:in2 ^10.0.2.1/24 -- c:in2" },
  { code: "address-in-pool", add: "link a:in2 ^10.0.1.5/24 -- c:in2" },
  { code: "self-link", add: "link a:in2 -- ^a:in3" },
  { code: "subnet-mismatch", add: "link a:in2 192.168.5.1/24 -- c:in2 ^192.168.6.1/24" },
  { code: "subnet-mismatch", add: "link a:in2 192.168.5.1/24 -- c:in2 ^192.168.5.2/25" },
  { code: "subnet-mismatch", add: "link a:in2 192.168.5.1/24 -- c:in2 ^fd00::2/64" },
  { code: "mtu-range", add: "link a:in2 -- c:in2 mtu ^40" },
  { code: "mtu-range", add: "link a:in2 -- c:in2 mtu ^65536" },
  { code: "mtu-range", add: "link a:in2 fd00::1/64 -- c:in2 fd00::2/64 mtu ^1000" },
  {
    code: "pod-subnet-overlap",
    severity: "warning",
    add: "link a:in2 ^192.168.2.5/24 -- c:in2 192.168.2.6/24",
  },
];

Deno.test("the base file and the embedded default topology lint clean", () => {
  assert.deepEqual(lintTopology(BASE, "base.topo").diagnostics, []);
  assert.deepEqual(lintTopology(DEFAULT_TOPOLOGY, "@default").diagnostics, []);
});

Deno.test("lint table: each diagnostic at its exact line:col with its code", () => {
  const seen = new Set<string>();
  for (const c of CASES) {
    const marker = c.add.indexOf("^");
    assert.ok(marker >= 0, `case ${c.code} has a ^ marker`);
    const text = BASE + c.add.replace("^", "") + "\n";
    const got = lintTopology(text, "case.topo").diagnostics;
    const want = [`case.topo:${BASE_LINES + 1}:${marker + 1}:${c.severity ?? "error"}:${c.code}`];
    assert.deepEqual(
      got.map((d) => `${d.file}:${d.line}:${d.col}:${d.severity}:${d.code}`),
      want,
      `${c.add}\n${got.map(formatDiagnostic).join("\n")}`,
    );
    assert.ok(got[0].message.length > 10, `message for ${c.code}`);
    seen.add(c.code);
  }
  assert.ok(seen.size >= 30, `${seen.size} distinct codes covered`);
});

Deno.test("lint reports every problem of a file at once, in source order", () => {
  const text = `node n1 parent eth0
pod a node n9
pod a node n1
link a:in1 10.0.0.1/24 -- zz:in1 10.0.1.1/24 mtu 9
frobnicate
`;
  const got = lintTopology(text, "many.topo").diagnostics.map((d) => `${d.line}:${d.col}:${d.code}`);
  assert.deepEqual(got, [
    "2:12:unknown-node",
    "3:5:duplicate-name",
    "4:27:unknown-pod",
    "4:34:subnet-mismatch",
    "4:50:mtu-range",
    "5:1:unknown-statement",
  ]);
});

Deno.test("pool errors point inside the range text, comments and odd spacing are fine", () => {
  const text = "gateway 10.0.1.0/24 10.0.1.1\n\tpool   default   10.0.1.2 ,  10.0.1.[9-x]   # tail comment\n";
  const d = lintTopology(text, "p.topo").diagnostics;
  assert.equal(d.length, 1);
  assert.equal(d[0].code, "bad-range");
  assert.equal(d[0].col, "\tpool   default   10.0.1.2 ,  ".length + 1);
  assert.match(d[0].message, /10\.0\.1\.\[9-x\]/);
});

/** Runs a command function with console output captured. */
async function capture(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await run();
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("lintCommand: compiler-style lines, exit 1 on errors, 0 on warnings only, JSON format", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.topo`, warn = `${dir}/warn.topo`;
    await Deno.writeTextFile(bad, "node n1 parent eth0\npod a node n2\n");
    await Deno.writeTextFile(warn, "gateway 10.0.7.5/24 10.0.7.1\n");
    const r1 = await capture(() => lintCommand([bad]));
    assert.equal(r1.code, 1);
    assert.equal(r1.out, `${bad}:2:12: error: pod a is on unknown node "n2" [unknown-node]`);
    assert.match(r1.err, /1 error\(s\), 0 warning\(s\)/);
    const r2 = await capture(() => lintCommand([warn, "@default"]));
    assert.equal(r2.code, 0);
    assert.match(r2.out, new RegExp(`^${warn}:1:9: warning: .*\\[host-bits\\]$`));
    const r3 = await capture(() => lintCommand(["--format", "json", bad, warn]));
    assert.equal(r3.code, 1);
    const json = JSON.parse(r3.out);
    assert.deepEqual(
      json.map((
        d: { file: string; line: number; col: number; severity: string; code: string },
      ) => [d.file, d.line, d.col, d.severity, d.code]),
      [[bad, 2, 12, "error", "unknown-node"], [warn, 1, 9, "warning", "host-bits"]],
    );
    const r4 = await capture(() => lintCommand([`${dir}/missing.topo`]));
    assert.equal(r4.code, 2);
    assert.match(r4.err, /cannot read/);
    const r5 = await capture(() => lintCommand(["--format", "xml", bad]));
    assert.equal(r5.code, 2);
    assert.match(r5.err, /usage: ratchet lint/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dsl/lint_main.ts as a real process: output on stdout, exit status", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/x.topo`;
    await Deno.writeTextFile(file, "link a:in1 -- a:in2\n");
    const main = new URL("../dsl/lint_main.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, file],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert.equal(out.code, 1);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.deepEqual(lines.map((l) => l.replace(/: .*\[/, " [")), [
      `${file}:1:6 [unknown-pod]`,
      `${file}:1:15 [unknown-pod]`,
      `${file}:1:15 [self-link]`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
