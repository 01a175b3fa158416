/** The `anchor` commands as a person runs them, on both stores, read back through mod/store. */
import assert from "node:assert/strict";
import {
  anchorCli,
  anchorConf,
  callAnchor,
  dump,
  guards,
  openAnchorStore,
  records,
  seed,
  STORE_KINDS,
} from "./lib/anchor_fixture.ts";
import { TempNetns } from "./lib/netns.ts";

for (const kind of STORE_KINDS) {
  Deno.test(`anchor pool, gw, ls and release commands (${kind} store)`, async () => {
    const s = await openAnchorStore(kind);
    const ns = await TempNetns.create(["anchor"]);
    const cli = (...args: string[]) => anchorCli([...args, ...s.flags]);
    try {
      // pool set checks with the range grammar ADD uses, and says what it stored.
      const set = await cli("pool", "set", "default", "10.0.1.[2-9], 10.0.2.8");
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /10\.0\.1\.2-10\.0\.1\.9, 10\.0\.2\.8 \(9 addresses\)/);
      const bad = await cli("pool", "set", "blue", "10.0.1.[2-9],10.0.1.[9-x]");
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /pool item "10\.0\.1\.\[9-x\]"/);
      assert.equal((await dump(s.store))["/anchor/ns/blue"], undefined, "a refused pool is not stored");
      await seed(s.store, { "/anchor/ns/broken": "10.0.1.[2-" });
      const pools = await cli("pool", "ls");
      assert.equal(pools.code, 0);
      assert.deepEqual(pools.stdout.trim().split("\n").map((l) => l.split(/\s{2,}/)), [
        ["NAMESPACE", "ADDRESSES", "RANGES"],
        ["broken", "invalid", "10.0.1.[2-"],
        ["default", "9", "10.0.1.[2-9], 10.0.2.8"],
      ]);
      assert.match(pools.stderr, /pool of namespace broken.*"10\.0\.1\.\[2-"/);
      const poolsJson = JSON.parse((await cli("pool", "ls", "--json")).stdout);
      assert.deepEqual(poolsJson[1], {
        namespace: "default",
        ranges: "10.0.1.[2-9], 10.0.2.8",
        addresses: "9",
      });

      // gw set keys the canonical subnet and refuses a gateway outside it.
      assert.equal((await cli("gw", "set", "10.0.1.0/24", "10.0.1.1")).code, 0);
      assert.equal((await cli("gw", "set", "fd00:1:0::/64", "FD00:1::1")).code, 0);
      const outside = await cli("gw", "set", "10.0.3.0/24", "10.0.4.1");
      assert.equal(outside.code, 1);
      assert.match(
        outside.stderr,
        /gateway "10\.0\.4\.1" for subnet 10\.0\.3\.0\/24: it is outside the subnet/,
      );
      const hostBits = await cli("gw", "set", "10.0.3.5/24", "10.0.3.1");
      assert.equal(hostBits.code, 1);
      assert.match(hostBits.stderr, /host bits are set; the subnet is 10\.0\.3\.0\/24/);
      const stored = await dump(s.store);
      assert.equal(stored["/anchor/gw/10.0.1.0/24"], "10.0.1.1");
      assert.equal(stored["/anchor/gw/fd00:1::/64"], "fd00:1::1");
      assert.equal(Object.keys(stored).filter((k) => k.startsWith("/anchor/gw/10.0.3")).length, 0);
      const gws = await cli("gw", "ls");
      assert.deepEqual(gws.stdout.trim().split("\n").map((l) => l.split(/\s+/)), [["SUBNET", "GATEWAY"], [
        "10.0.1.0/24",
        "10.0.1.1",
      ], ["fd00:1::/64", "fd00:1::1"]]);

      // ls shows our records and the original's, sorted by address.
      const add = await callAnchor({
        command: "ADD",
        id: "c1",
        netns: ns.path(0),
        conf: anchorConf(s, { args: { "cni.anchor.org/subnet": "10.0.1.0/24" } }),
      });
      assert.equal(add.code, 0, add.stdout);
      await seed(s.store, { "/anchor/cn/orig": "10.0.1.9,web-0,default,web" });
      const table = (await cli("ls")).stdout.trim().split("\n").map((l) => l.split(/\s+/));
      assert.deepEqual(table[0], [
        "CONTAINER",
        "IFNAME",
        "IP",
        "POD",
        "NAMESPACE",
        "CONTROLLER",
        "NODE",
        "NETWORK",
        "TIME",
      ]);
      assert.deepEqual(table.slice(1).map((r) => r.slice(0, 8)), [
        ["c1", "eth0", "10.0.1.2", "pod-c1", "default", "unknown", Deno.hostname(), "anchornet"],
        ["orig", "-", "10.0.1.9", "web-0", "default", "web", "-", "-"],
      ]);
      const json = JSON.parse((await cli("ls", "--json")).stdout);
      assert.deepEqual(json[1], {
        key: "/anchor/cn/orig",
        containerId: "orig",
        ip: "10.0.1.9",
        podName: "web-0",
        podNamespace: "default",
        controller: "web",
      });
      assert.equal(json[0].ifname, "eth0");

      // release frees the record and its guard; an unknown container is exit 1.
      const rel = await cli("release", "c1");
      assert.equal(rel.code, 0, rel.stderr);
      assert.match(rel.stdout, /released 10\.0\.1\.2 of container c1 interface eth0/);
      assert.deepEqual([...(await records(s.store)).keys()], ["orig"]);
      assert.equal((await guards(s.store)).size, 0);
      assert.equal((await cli("release", "c1")).code, 1);
      assert.equal((await cli("release", "orig", "--ifname", "eth0")).code, 0);

      // Usage mistakes are exit 2 with the usage; --help is exit 0.
      const wrong = await cli("pool", "set", "only-one-arg");
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /usage: anchor pool set/);
      assert.equal((await cli("ls", "--frobnicate")).code, 2);
      const help = await anchorCli(["gw", "--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /usage: anchor gw set SUBNET GATEWAY/);
    } finally {
      await ns.cleanup();
      await s.close();
    }
  });
}

for (const kind of STORE_KINDS) {
  Deno.test(`anchor store dump prints every key with its revisions (${kind} store)`, async () => {
    const s = await openAnchorStore(kind);
    const cli = (...args: string[]) => anchorCli([...args, ...s.flags]);
    try {
      await seed(s.store, { "/anchor/ns/default": "10.0.1.[2-9]", "/ratchet/nodes/n1": "{}" });
      await s.store.put("/anchor/ns/default", "10.0.1.[2-20]");
      const table = await cli("store", "dump");
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trim().split("\n").map((l) => l.split(/\s{2,}/));
      assert.deepEqual(lines[0], ["KEY", "MOD", "VERSION", "VALUE"]);
      assert.deepEqual(lines.slice(1).map((l) => [l[0], l[2], l[3]]), [
        ["/anchor/ns/default", "2", "10.0.1.[2-20]"],
        ["/ratchet/nodes/n1", "1", "{}"],
      ]);
      const json = JSON.parse((await cli("store", "dump", "--json")).stdout);
      const stored = await s.store.get("/anchor/ns/default");
      assert.deepEqual(json[0], stored);
      const bad = await cli("store", "bogus");
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /usage: anchor store dump/);
    } finally {
      await s.close();
    }
  });
}
