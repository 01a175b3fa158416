import assert from "node:assert/strict";
import {
  addIp,
  broadcastOf,
  canonicalCidr,
  canonicalIp,
  cidrEquals,
  compareIp,
  contains,
  countRanges,
  filterToSubnet,
  formatCidr,
  formatIp,
  formatRange,
  hostRange,
  ipFromBytes,
  IpParseError,
  IpRangeError,
  ipToBytes,
  iterateRanges,
  networkOf,
  overlaps,
  parseCidr,
  parseIp,
  parseRanges,
  rangesContain,
  sameNetwork,
  tryParseIp,
} from "../mod/ip/mod.ts";

/**
 * Runs `body` with a fresh namespace and an `ip -n <ns>` runner; the namespace goes even on failure.
 * Kept here rather than in tests/lib because tests/lib belongs to another area.
 */
async function withTestNetns(body: (ns: string, ip: (args: string[]) => Promise<string>) => Promise<void>) {
  const ns = `rt-${crypto.randomUUID().slice(0, 8)}`;
  const run = async (args: string[]) => {
    const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    return text;
  };
  await run(["netns", "add", ns]);
  try {
    await body(ns, (args) => run(["-n", ns, ...args]));
  } finally {
    await run(["netns", "del", ns]);
  }
}

Deno.test("parseIp reads IPv4 and IPv6 text forms", () => {
  const ok: [string, 4 | 6, bigint][] = [
    ["0.0.0.0", 4, 0n],
    ["10.0.1.5", 4, 0x0a000105n],
    ["255.255.255.255", 4, 0xffffffffn],
    ["10.0.1.000", 4, 0x0a000100n],
    ["::", 6, 0n],
    ["::1", 6, 1n],
    ["1::", 6, 1n << 112n],
    ["fd00::a", 6, (0xfd00n << 112n) | 0xan],
    ["FD00:0:0:0:0:0:0:A", 6, (0xfd00n << 112n) | 0xan],
    ["1:2:3:4:5:6:7:8", 6, 0x00010002000300040005000600070008n],
    ["1::2:3", 6, (1n << 112n) | (2n << 16n) | 3n],
    ["::ffff:10.0.1.5", 6, 0xffff0a000105n],
    ["64:ff9b::1.2.3.4", 6, (0x64n << 112n) | (0xff9bn << 96n) | 0x01020304n],
  ];
  for (const [s, family, value] of ok) assert.deepEqual(parseIp(s), { family, value }, s);
});

Deno.test("parseIp rejects malformed text with a reason naming the input", () => {
  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "1.2.3.",
    ".1.2.3",
    "1..2.3",
    "1.2.3.4 ",
    "a.b.c.d",
    "0001.2.3.4",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    "12345::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    ":1::",
    "1::2:",
    "fe80::1%eth0",
    "::ffff:1.2.3",
    "1:2:3:4:5:6:7:1.2.3.4",
    "g::1",
  ];
  for (const s of bad) {
    assert.equal(tryParseIp(s), undefined, s);
    assert.throws(() => parseIp(s), (e: unknown) => e instanceof IpParseError && e.input === s, s);
  }
});

Deno.test("formatIp is RFC 5952 canonical and round-trips", () => {
  const cases: [string, string][] = [
    ["10.0.1.000", "10.0.1.0"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["::ffff:0a00:0105", "::ffff:10.0.1.5"],
    ["FD00::ABCD", "fd00::abcd"],
  ];
  for (const [input, want] of cases) {
    assert.equal(canonicalIp(input), want);
    assert.equal(canonicalIp(want), want);
  }
});

Deno.test("CIDR math: network, broadcast, contains, sameNetwork, equality, hosts", () => {
  assert.deepEqual(parseCidr("10.0.1.5/24"), { family: 4, addr: 0x0a000105n, prefix: 24 });
  assert.equal(formatCidr(networkOf("10.0.1.5/24")), "10.0.1.0/24");
  assert.equal(formatIp(broadcastOf("10.0.1.5/24")), "10.0.1.255");
  assert.equal(formatIp(broadcastOf("fd00::1/120")), "fd00::ff");
  assert.equal(canonicalCidr("FD00:0::7/64", true), "fd00::/64");
  assert.ok(contains("10.0.1.0/24", "10.0.1.200"));
  assert.ok(!contains("10.0.1.0/24", "10.0.2.1"));
  assert.ok(!contains("10.0.1.0/24", "::ffff:10.0.1.1"), "a v6 address is never in a v4 block");
  assert.ok(contains("0.0.0.0/0", "1.2.3.4"));
  assert.ok(contains("fd00::/8", "fdff::1"));
  assert.ok(sameNetwork("10.0.1.0/24", "10.0.1.000/24"));
  assert.ok(sameNetwork("10.0.1.7/24", "10.0.1.0/24"));
  assert.ok(!sameNetwork("10.0.1.0/24", "10.0.1.0/25"));
  assert.ok(cidrEquals("10.0.1.000/24", "10.0.1.0/24"));
  assert.ok(!cidrEquals("10.0.1.7/24", "10.0.1.0/24"));
  assert.ok(overlaps("10.0.0.0/16", "10.0.3.0/24"));
  assert.ok(!overlaps("10.0.0.0/24", "10.0.1.0/24"));
  const h = (c: string) => {
    const r = hostRange(c);
    return `${formatIp({ family: c.includes(":") ? 6 : 4, value: r.start })}-${
      formatIp({ family: c.includes(":") ? 6 : 4, value: r.end })
    }`;
  };
  assert.equal(h("10.0.3.0/28"), "10.0.3.1-10.0.3.14");
  assert.equal(h("10.0.3.0/31"), "10.0.3.0-10.0.3.1");
  assert.equal(h("10.0.3.9/32"), "10.0.3.9-10.0.3.9");
  assert.equal(h("fd00::/120"), "fd00::1-fd00::ff");
  for (const bad of ["10.0.1.0", "10.0.1.0/33", "10.0.1.0/", "10.0.1.0/2x", "fd00::/129", "x/24"]) {
    assert.throws(() => parseCidr(bad), IpParseError, bad);
  }
});

Deno.test("compareIp orders v4 before v6; addIp steps and refuses to leave the space", () => {
  const list = ["fd00::1", "10.0.0.2", "::1", "10.0.0.1"].map(parseIp).sort(compareIp).map(formatIp);
  assert.deepEqual(list, ["10.0.0.1", "10.0.0.2", "::1", "fd00::1"]);
  assert.equal(formatIp(addIp(parseIp("10.0.0.255"), 1)), "10.0.1.0");
  assert.equal(formatIp(addIp(parseIp("fd00::ffff"), 1n)), "fd00::1:0");
  assert.equal(formatIp(addIp(parseIp("10.0.1.0"), -1)), "10.0.0.255");
  assert.throws(() => addIp(parseIp("255.255.255.255"), 1), IpRangeError);
  assert.throws(() => addIp(parseIp("0.0.0.0"), -1), IpRangeError);
});

Deno.test("ipToBytes/ipFromBytes: network byte order, both families", () => {
  assert.deepEqual([...ipToBytes(parseIp("10.0.1.5"))], [10, 0, 1, 5]);
  const v6 = parseIp("fd00::1:2");
  assert.deepEqual([...ipToBytes(v6)], [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]);
  assert.deepEqual(ipFromBytes(ipToBytes(v6)), v6);
  assert.deepEqual(ipFromBytes(new Uint8Array([255, 255, 255, 255])), parseIp("255.255.255.255"));
  assert.throws(() => ipFromBytes(new Uint8Array(5)), IpParseError);
});

/** The range grammar: each case lists the merged ranges it yields and the items it rejects. */
const RANGE_TABLE: {
  input: string;
  ranges: string[];
  errors?: { item: string; index: number; says: RegExp }[];
}[] = [
  { input: "", ranges: [] },
  { input: "   ", ranges: [] },
  { input: "10.0.2.8", ranges: ["10.0.2.8"] },
  { input: "10.0.1.[2-9],10.0.2.8", ranges: ["10.0.1.2-10.0.1.9", "10.0.2.8"] },
  { input: " 10.0.1.[2-9] , 10.0.2.8 ", ranges: ["10.0.1.2-10.0.1.9", "10.0.2.8"] },
  { input: "10.0.1.[5-9],10.0.1.[2-4],10.0.1.10", ranges: ["10.0.1.2-10.0.1.10"], errors: [] },
  { input: "10.0.1.[2-9],10.0.1.[4-6]", ranges: ["10.0.1.2-10.0.1.9"] },
  { input: "10.0.1.[0-255]", ranges: ["10.0.1.0-10.0.1.255"] },
  { input: "10.0.1.[7-7]", ranges: ["10.0.1.7"] },
  { input: "10.0.3.0/28", ranges: ["10.0.3.1-10.0.3.14"] },
  { input: "fd00::[a-ff]", ranges: ["fd00::a-fd00::ff"] },
  { input: "fd00::[A-F],10.0.0.1", ranges: ["10.0.0.1", "fd00::a-fd00::f"] },
  { input: "fd00::/126", ranges: ["fd00::1-fd00::3"] },
  { input: "10.0.1.[9-2]", ranges: [], errors: [{ item: "10.0.1.[9-2]", index: 0, says: /reversed/ }] },
  {
    input: "10.0.1.2, 10.0.1.[2-256]",
    ranges: ["10.0.1.2"],
    errors: [{ item: "10.0.1.[2-256]", index: 10, says: /0-255/ }],
  },
  { input: "10.0.1.300", ranges: [], errors: [{ item: "10.0.1.300", index: 0, says: /out of range/ }] },
  { input: "banana,10.0.0.1", ranges: ["10.0.0.1"], errors: [{ item: "banana", index: 0, says: /banana/ }] },
  { input: "10.0.1.[2-9", ranges: [], errors: [{ item: "10.0.1.[2-9", index: 0, says: /end the item/ }] },
  { input: "10.0.1.[2-9]x", ranges: [], errors: [{ item: "10.0.1.[2-9]x", index: 0, says: /end the item/ }] },
  { input: "10.0.1[2-9]", ranges: [], errors: [{ item: "10.0.1[2-9]", index: 0, says: /follow/ }] },
  { input: "10.0.[2-9]", ranges: [], errors: [{ item: "10.0.[2-9]", index: 0, says: /bad prefix/ }] },
  { input: "10.0.1.[x-9]", ranges: [], errors: [{ item: "10.0.1.[x-9]", index: 0, says: /bounds/ }] },
  { input: "10.0.1.[29]", ranges: [], errors: [{ item: "10.0.1.[29]", index: 0, says: /\[a-b\]/ }] },
  { input: "fd00::[0-10000]", ranges: [], errors: [{ item: "fd00::[0-10000]", index: 0, says: /ffff/ }] },
  { input: "10.0.3.5/28", ranges: [], errors: [{ item: "10.0.3.5/28", index: 0, says: /network address/ }] },
  {
    input: "10.0.1.1,,10.0.1.2",
    ranges: ["10.0.1.1-10.0.1.2"],
    errors: [{ item: "", index: 9, says: /empty/ }],
  },
  { input: "10.0.1.1,", ranges: ["10.0.1.1"], errors: [{ item: "", index: 9, says: /empty/ }] },
];

Deno.test("parseRanges: the grammar table, errors naming the item and its offset", () => {
  for (const c of RANGE_TABLE) {
    const got = parseRanges(c.input);
    assert.deepEqual(got.ranges.map(formatRange), c.ranges, `ranges of ${JSON.stringify(c.input)}`);
    const want = c.errors ?? [];
    assert.equal(
      got.errors.length,
      want.length,
      `errors of ${JSON.stringify(c.input)}: ${JSON.stringify(got.errors)}`,
    );
    want.forEach((w, i) => {
      const e = got.errors[i];
      assert.equal(e.item, w.item);
      assert.equal(e.index, w.index, `offset of ${w.item}`);
      assert.match(e.message, w.says);
      if (w.item) assert.ok(e.message.includes(w.item), `message names the item: ${e.message}`);
    });
  }
});

Deno.test("filterToSubnet keeps host addresses and returns what it skipped", () => {
  const { ranges } = parseRanges("10.0.1.[0-9],10.0.2.8,10.0.1.[250-255],fd00::1");
  const r = filterToSubnet(ranges, parseCidr("10.0.1.0/24"));
  assert.deepEqual(r.ranges.map(formatRange), ["10.0.1.1-10.0.1.9", "10.0.1.250-10.0.1.254"]);
  assert.deepEqual(r.skipped.map(formatRange), ["10.0.1.0", "10.0.1.255", "10.0.2.8", "fd00::1"]);
});

Deno.test("iterateRanges is lazy, countRanges and rangesContain agree with it", () => {
  const { ranges } = parseRanges("10.0.1.[2-4],10.0.2.8,fd00::/64");
  assert.equal(countRanges(ranges), 4n + (1n << 64n) - 1n);
  const first: string[] = [];
  for (const ip of iterateRanges(ranges)) {
    first.push(formatIp(ip));
    if (first.length === 6) break;
  }
  assert.deepEqual(first, ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.2.8", "fd00::1", "fd00::2"]);
  for (
    const [ip, want] of [["10.0.1.3", true], ["10.0.1.5", false], ["10.0.2.8", true], ["fd00::ffff", true], [
      "fd01::",
      false,
    ]] as const
  ) {
    assert.equal(rangesContain(ranges, parseIp(ip)), want, ip);
  }
});

Deno.test("iterateRanges from an address: host-local's order, on from there and around to the start, each once", () => {
  const { ranges } = parseRanges("10.0.1.[2-4],10.0.1.[8-9]");
  const from = (ip: string) => [...iterateRanges(ranges, parseIp(ip).value)].map(formatIp);
  const all = ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.8", "10.0.1.9"];
  assert.deepEqual(from("10.0.1.3"), ["10.0.1.3", "10.0.1.4", "10.0.1.8", "10.0.1.9", "10.0.1.2"]);
  assert.deepEqual(from("10.0.1.5"), ["10.0.1.8", "10.0.1.9", ...all.slice(0, 3)], "from a gap");
  assert.deepEqual(from("10.0.1.9"), ["10.0.1.9", ...all.slice(0, 4)]);
  assert.deepEqual(from("10.0.1.10"), all, "past the end: from the start");
  assert.deepEqual(from("10.0.0.1"), all, "before the start");
  assert.deepEqual([...iterateRanges([], 5n)], []);
  const v6 = parseRanges("fd00::[fffe-ffff],fd00::1:0/120").ranges;
  const next: string[] = [];
  for (const ip of iterateRanges(v6, parseIp("fd00::ffff").value)) {
    next.push(formatIp(ip));
    if (next.length === 3) break;
  }
  assert.deepEqual(next, ["fd00::ffff", "fd00::1:1", "fd00::1:2"], "v6, lazily");
});

Deno.test("the kernel agrees with formatIp and networkOf (iproute2 as the independent reader)", async () => {
  const addrs = [
    "10.0.1.000/24",
    "192.168.7.9/30",
    "2001:0db8:0:0:1:0:0:1/64",
    "fd00:0:0:0:0:0:0:abcd/120",
    "fd00:1::1:0:0:0/80",
  ];
  await withTestNetns(async (ns, ip) => {
    await ip(["link", "add", "rt0", "type", "veth", "peer", "name", "rt1"]);
    await ip(["link", "set", "rt0", "up"]);
    await ip(["link", "set", "rt1", "up"]);
    for (const a of addrs) await ip(["addr", "add", a, "dev", "rt0", ...(a.includes(":") ? ["nodad"] : [])]);
    const shown = JSON.parse(await ip(["-j", "addr", "show", "dev", "rt0"]))[0].addr_info as {
      local: string;
      prefixlen: number;
    }[];
    const kernel = new Set(shown.map((i) => `${i.local}/${i.prefixlen}`));
    for (const a of addrs) {
      assert.ok(kernel.has(canonicalCidr(a)), `${canonicalCidr(a)} in ${[...kernel]} (${ns})`);
    }
    const routes = JSON.parse(await ip(["-j", "route", "show", "dev", "rt0"])) as { dst: string }[];
    const routes6 = JSON.parse(await ip(["-j", "-6", "route", "show", "dev", "rt0"])) as { dst: string }[];
    const dsts = new Set([...routes, ...routes6].map((r) => r.dst));
    for (const a of addrs) {
      const net = canonicalCidr(a, true);
      assert.ok(dsts.has(net), `connected route ${net} in ${[...dsts]}`);
    }
  });
});
