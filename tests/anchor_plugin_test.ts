/**
 * The anchor IPAM plugin as a runtime calls it (real processes through the launchers), the same suite
 * on the file store and on a real etcd. The store is read back through mod/store and decoded by hand.
 */
import assert from "node:assert/strict";
import {
  anchorConf,
  type AnchorStore,
  callAnchor,
  dump,
  guards,
  inconsistencies,
  openAnchorStore,
  records,
  seed,
  STORE_KINDS,
} from "./lib/anchor_fixture.ts";
import { TempNetns } from "./lib/netns.ts";

const SUBNET = { "cni.anchor.org/subnet": "10.0.1.0/24" };
const BASE = { "/anchor/ns/default": "10.0.1.[2-9],10.0.2.8", "/anchor/gw/10.0.1.0/24": "10.0.1.1" };

/** Runs one suite per store kind; each step starts from an empty store. */
function suite(
  title: string,
  body: (
    s: AnchorStore,
    netns: string,
    step: (name: string, fn: () => Promise<void>) => Promise<void>,
  ) => Promise<void>,
) {
  for (const kind of STORE_KINDS) {
    Deno.test(`${title} (${kind} store)`, async (t) => {
      const s = await openAnchorStore(kind);
      const ns = await TempNetns.create(["anchor"]);
      try {
        await body(s, ns.path(0), async (name, fn) => {
          const ok = await t.step(name, async () => {
            await s.wipe();
            await fn();
          });
          assert.ok(ok, `step failed: ${name}`);
        });
      } finally {
        await ns.cleanup();
        await s.close();
      }
    });
  }
}

suite("anchor ADD/DEL/CHECK/GC", async (s, netns, step) => {
  const add = (
    id: string,
    o: Parameters<typeof anchorConf>[1] = {},
    extra: { ifname?: string; cniArgs?: string } = {},
  ) => callAnchor({ command: "ADD", id, netns, conf: anchorConf(s, { args: SUBNET, ...o }), ...extra });

  /** CHECK of `id` with a prevResult that holds only `address`. */
  const checkAddress = (id: string, address: string) =>
    callAnchor({
      command: "CHECK",
      id,
      netns,
      conf: { ...anchorConf(s), prevResult: { cniVersion: "1.1.0", ips: [{ address }] } },
    });

  await step(
    "ADD gives the first free address with the gateway, routes in the original's order, and DNS",
    async () => {
      await seed(s.store, BASE);
      const logFile = await Deno.makeTempFile({ prefix: "anchor-log-" });
      try {
        const r = await add("c1", {
          args: { ...SUBNET, "cni.anchor.org/routes": "10.88.0.0/16,10.0.1.5; 10.99.1.0/24,10.0.1.7" },
          ipam: { service_ipnet: "10.96.0.0/12", node_ips: ["192.168.100.86", "10.0.1.250", "10.0.1.251"] },
          top: {
            dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] },
            log_file: logFile,
            log_level: "warn",
          },
        });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.deepEqual(r.json, {
          cniVersion: "1.1.0",
          ips: [{ address: "10.0.1.2/24", gateway: "10.0.1.1" }],
          routes: [
            { dst: "0.0.0.0/0", gw: "10.0.1.1" },
            { dst: "10.88.0.0/16", gw: "10.0.1.5" },
            { dst: "10.99.1.0/24", gw: "10.0.1.7" },
            { dst: "10.96.0.0/12", gw: "10.0.1.250" },
          ],
          dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] },
        });
        const [ip, pod, ns, ctrl, ifname, node, network, time] = (await records(s.store)).get("c1")!;
        assert.deepEqual([ip, pod, ns, ctrl, ifname, node, network], [
          "10.0.1.2",
          "pod-c1",
          "default",
          "unknown",
          "eth0",
          Deno.hostname(),
          "anchornet",
        ]);
        assert.ok(Math.abs(Date.parse(time) - Date.now()) < 60_000, `time ${time}`);
        assert.deepEqual([...(await guards(s.store))], [["10.0.1.2", "c1"]]);
        // 10.0.2.8 is in the pool but not in the pod's subnet: skipped, with a warning.
        const warns = (await Deno.readTextFile(logFile)).trim().split("\n").map((l) => JSON.parse(l)).filter((
          l,
        ) => l.level === "warn");
        assert.equal(warns.length, 1);
        assert.deepEqual(warns[0].skipped, ["10.0.2.8"]);
      } finally {
        await Deno.remove(logFile);
      }
    },
  );

  await step("results follow the config's version: 0.3.1 carries ips[].version", async () => {
    await seed(s.store, BASE);
    const r = await add("old", { cniVersion: "0.3.1" });
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(r.json.ips, [{ version: "4", address: "10.0.1.2/24", gateway: "10.0.1.1" }]);
    assert.equal(r.json.cniVersion, "0.3.1");
  });

  await step("network, gateway and broadcast addresses are never handed out", async () => {
    await seed(s.store, { "/anchor/ns/default": "10.0.3.[0-3]", "/anchor/gw/10.0.3.0/30": "10.0.3.1" });
    const args = { "cni.anchor.org/subnet": "10.0.3.0/30" };
    const r = await add("a", { args });
    assert.equal(r.json.ips[0].address, "10.0.3.2/30", r.stdout);
    const full = await add("b", { args });
    assert.equal(full.code, 1);
    assert.equal(full.json.code, 102, full.stdout);
    // The gateway is reserved, not "in use".
    assert.equal(
      full.json.msg,
      "the pool of namespace default has no free address in subnet 10.0.3.0/30: of its 2 addresses there, " +
        "0 free, 1 allocated, 1 reserved: 10.0.3.1 (gateway)",
    );
  });

  await step(
    "a pod's gateway annotation overrides the store's, and neither gateway is handed out",
    async () => {
      await seed(s.store, { "/anchor/ns/default": "10.0.1.[1-3]", "/anchor/gw/10.0.1.0/24": "10.0.1.1" });
      const r = await add("g", { args: { ...SUBNET, "cni.anchor.org/gateway": "10.0.1.2" } });
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(r.json.ips, [{ address: "10.0.1.3/24", gateway: "10.0.1.2" }]);
      assert.deepEqual(r.json.routes[0], { dst: "0.0.0.0/0", gw: "10.0.1.2" });
      // The store needs no gateway when the pod names one.
      await s.wipe();
      await seed(s.store, { "/anchor/ns/default": "10.0.5.[2-9]" });
      const alone = await add("h", {
        args: { "cni.anchor.org/subnet": "10.0.5.0/24", "cni.anchor.org/gateway": "10.0.5.1" },
      });
      assert.equal(alone.json.ips[0].address, "10.0.5.2/24", alone.stdout);
    },
  );

  await step(
    "ADD is idempotent per container and interface; a second interface gets its own address and key",
    async () => {
      await seed(s.store, BASE);
      const first = await add("same");
      const again = await add("same");
      assert.equal(first.code, 0, first.stdout);
      assert.deepEqual(again.json, first.json);
      const second = await add("same", {}, { ifname: "net1" });
      assert.equal(second.json.ips[0].address, "10.0.1.3/24", second.stdout);
      const recs = await records(s.store);
      assert.deepEqual([...recs.keys()].sort(), ["same", "same:net1"]);
      assert.equal(recs.get("same:net1")![4], "net1");
      assert.deepEqual(await inconsistencies(s.store), []);
    },
  );

  await step(
    "DEL releases the record and its guard in one go; twice, or for an unknown container, is fine",
    async () => {
      await seed(s.store, BASE);
      await add("d1");
      await add("d1", {}, { ifname: "net1" });
      await add("d2");
      const del = (id: string, ifname = "eth0") =>
        callAnchor({ command: "DEL", id, ifname, netns, conf: anchorConf(s) });
      for (const r of [await del("d1"), await del("d1"), await del("never-added")]) {
        assert.equal(r.code, 0, r.stdout);
      }
      assert.deepEqual([...(await records(s.store)).keys()].sort(), ["d1:net1", "d2"]);
      assert.deepEqual([...(await guards(s.store)).keys()].sort(), ["10.0.1.3", "10.0.1.4"]);
      // DEL needs neither annotations nor a netns nor the Kubernetes API (here: one that cannot answer).
      const noApi = await callAnchor({
        command: "DEL",
        id: "d2",
        netns: "",
        conf: anchorConf(s, {
          ipam: { policy: { k8s_api_root: "https://127.0.0.1:1", k8s_auth_token: "x" } },
        }),
      });
      assert.equal(noApi.code, 0, noApi.stdout);
      assert.deepEqual([...(await records(s.store)).keys()], ["d1:net1"]);
      // As host-local does, the next ADD goes on after the last address handed out (10.0.1.4, d2's): a
      // freed address comes back only when the pool wraps around (tests/ipam_probe_test.ts).
      assert.equal((await add("d3")).json.ips[0].address, "10.0.1.5/24");
    },
  );

  await step("CHECK passes for the stored address and fails with 105 otherwise", async () => {
    await seed(s.store, BASE);
    const r = await add("k");
    const check = (prevResult: unknown, id = "k") =>
      callAnchor({
        command: "CHECK",
        id,
        netns,
        conf: { ...anchorConf(s, { args: SUBNET }), ...(prevResult ? { prevResult } : {}) },
      });
    assert.equal((await check(r.json)).code, 0);
    const wrong = await check({ ...r.json, ips: [{ address: "10.0.1.9/24", gateway: "10.0.1.1" }] });
    assert.equal(wrong.json.code, 105, wrong.stdout);
    assert.match(wrong.json.msg, /store holds 10\.0\.1\.2 .* prevResult has 10\.0\.1\.9/);
    const unknown = await check(r.json, "other");
    assert.equal(unknown.json.code, 105);
    assert.match(unknown.json.msg, /no allocation for container other interface eth0/);
    assert.equal((await check(undefined)).json.code, 7);
    await callAnchor({ command: "DEL", id: "k", netns, conf: anchorConf(s) });
    assert.equal((await check(r.json)).json.code, 105);
  });

  await step(
    "GC releases this node's allocations of this network that are not valid attachments, and orphaned guards",
    async () => {
      await seed(s.store, { ...BASE, "/anchor/ns/default": "10.0.1.[2-30]" });
      const node = (n: string) => ({ kubernetes: { node_name: n } });
      for (const id of ["a", "b", "c"]) {
        assert.equal((await add(id, { ipam: node("n1") })).code, 0);
      }
      await add("b", { ipam: node("n1") }, { ifname: "net1" });
      await add("d", { ipam: node("n2") });
      await add("e", { ipam: node("n1"), name: "othernet" });
      await seed(s.store, {
        "/anchor/cn/legacy": "10.0.1.40,web-0,default,web", // written by the original anchor: no node, no network
        "/anchor/ip/10.0.1.77": "ghost", // a guard whose record is gone
      });
      const gc = (field: string, valid: unknown, grace: Record<string, unknown> = { gc_grace_seconds: 0 }) =>
        callAnchor({
          command: "GC",
          netns,
          conf: { ...anchorConf(s, { ipam: { ...node("n1"), ...grace } }), [field]: valid },
        });
      // With the default grace period (300 s), records written moments ago are never collected:
      // their ADD may still be in flight.
      assert.equal((await gc("cni.dev/valid-attachments", [], {})).code, 0);
      assert.deepEqual([...(await records(s.store)).keys()].sort(), [
        "a",
        "b",
        "b:net1",
        "c",
        "d",
        "e",
        "legacy",
      ]);
      // Grace 0: every unlisted record of n1 on this network is garbage.
      const r = await gc("cni.dev/valid-attachments", [{ containerID: "a", ifname: "eth0" }, {
        containerID: "b",
        ifname: "net1",
      }]);
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual([...(await records(s.store)).keys()].sort(), ["a", "b:net1", "d", "e", "legacy"]);
      assert.equal((await guards(s.store)).has("10.0.1.77"), false);
      assert.deepEqual(await inconsistencies(s.store), []);
      // The 1.1.0 tag's field name works too; an empty list releases the rest of n1's.
      assert.equal((await gc("cni.dev/attachments", [])).code, 0);
      assert.deepEqual([...(await records(s.store)).keys()].sort(), ["d", "e", "legacy"]);
      const missing = await callAnchor({ command: "GC", netns, conf: anchorConf(s) });
      assert.equal(missing.json.code, 7);
      assert.match(missing.json.msg, /cni\.dev\/valid-attachments/);
    },
  );

  await step("two namespaces with overlapping pools never share an address", async () => {
    await seed(s.store, { ...BASE, "/anchor/ns/blue": "10.0.1.[2-9]" });
    const a = await add("x1");
    const b = await add("x2", {}, { cniArgs: "K8S_POD_NAMESPACE=blue;K8S_POD_NAME=p" });
    assert.equal(a.json.ips[0].address, "10.0.1.2/24");
    assert.equal(b.json.ips[0].address, "10.0.1.3/24", b.stdout);
    assert.equal((await records(s.store)).get("x2")![2], "blue");
  });

  await step(
    "records the original anchor wrote are read: their addresses are taken, and CHECK and DEL work on them",
    async () => {
      await seed(s.store, {
        ...BASE,
        "/anchor/cn/orig1": "10.0.1.2,web-0,other,web",
        "/anchor/cn/orig2": "10.0.1.3,db-0,default,db",
        "/anchor/lock": "the original's mutex key, ignored",
      });
      const r = await add("new");
      assert.equal(r.json.ips[0].address, "10.0.1.4/24", r.stdout);
      const check = await checkAddress("orig2", "10.0.1.3/24");
      assert.equal(check.code, 0, check.stdout);
      // The original's record answers for the container's only interface, whatever its name.
      const again = await add("orig2", {}, { ifname: "eth0" });
      assert.equal(again.json.ips[0].address, "10.0.1.3/24");
      assert.equal((await callAnchor({ command: "DEL", id: "orig2", netns, conf: anchorConf(s) })).code, 0);
      assert.deepEqual([...(await records(s.store)).keys()].sort(), ["new", "orig1"]);
      assert.equal((await dump(s.store))["/anchor/cn/orig1"], "10.0.1.2,web-0,other,web");
    },
  );

  await step("IPv6: a v6 pool in a v6 subnet, skipping the subnet-router anycast address", async () => {
    await seed(s.store, {
      "/anchor/ns/default": "fd00:1::[0-3], 10.0.1.5",
      "/anchor/gw/fd00:1::/64": "fd00:1::1",
    });
    const conf = {
      args: { "cni.anchor.org/subnet": "fd00:1::/64", "cni.anchor.org/routes": "fd00:99::/48,fd00:1::fe" },
      ipam: { service_ipnet: "fd00:96::/108", node_ips: ["10.0.1.250", "fd00:1::fa"] },
    };
    const r = await add("v6", conf);
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(r.json.ips, [{ address: "fd00:1::2/64", gateway: "fd00:1::1" }]);
    assert.deepEqual(r.json.routes, [
      { dst: "::/0", gw: "fd00:1::1" },
      { dst: "fd00:99::/48", gw: "fd00:1::fe" },
      { dst: "fd00:96::/108", gw: "fd00:1::fa" },
    ]);
    assert.equal((await add("v6b", conf)).json.ips[0].address, "fd00:1::3/64");
    assert.equal((await add("v6c", conf)).json.code, 102);
    const check = await checkAddress("v6", "FD00:1:0::2/64");
    assert.equal(check.code, 0, check.stdout);
  });

  await step("errors name what is missing or wrong, and leave nothing behind", async () => {
    const cases: {
      what: string;
      keys: Record<string, string>;
      args: Record<string, string>;
      code: number;
      msg: RegExp;
    }[] = [
      {
        what: "no pool",
        keys: { "/anchor/gw/10.0.1.0/24": "10.0.1.1" },
        args: SUBNET,
        code: 103,
        msg: /no address pool for namespace default/,
      },
      {
        what: "no subnet annotation",
        keys: BASE,
        args: {},
        code: 7,
        msg: /pod default\/pod-e has no annotation cni\.anchor\.org\/subnet/,
      },
      {
        what: "no gateway",
        keys: { "/anchor/ns/default": "10.0.1.[2-9]" },
        args: SUBNET,
        code: 103,
        msg: /no gateway for subnet 10\.0\.1\.0\/24/,
      },
      {
        what: "gateway annotation outside the subnet",
        keys: BASE,
        args: { ...SUBNET, "cni.anchor.org/gateway": "10.0.2.1" },
        code: 7,
        msg: /annotation cni\.anchor\.org\/gateway "10\.0\.2\.1".*outside the subnet/,
      },
      {
        what: "stored gateway outside the subnet",
        keys: { ...BASE, "/anchor/gw/10.0.1.0/24": "10.0.9.1" },
        args: SUBNET,
        code: 7,
        msg: /gateway \/anchor\/gw\/10\.0\.1\.0\/24 "10\.0\.9\.1".*outside/,
      },
      {
        what: "malformed pool item",
        keys: { ...BASE, "/anchor/ns/default": "10.0.1.[2-9],10.0.1.[9-2],10.0.1.300" },
        args: SUBNET,
        code: 7,
        msg: /pool item "10\.0\.1\.\[9-2\]".*pool item "10\.0\.1\.300"/,
      },
      {
        what: "a /31 subnet",
        keys: BASE,
        args: { "cni.anchor.org/subnet": "10.0.1.0/31" },
        code: 7,
        msg: /\/31 has no room/,
      },
      {
        what: "a /32 subnet",
        keys: BASE,
        args: { "cni.anchor.org/subnet": "10.0.1.7/32" },
        code: 7,
        msg: /\/32 has no room/,
      },
      {
        what: "a subnet that is no CIDR",
        keys: BASE,
        args: { "cni.anchor.org/subnet": "10.0.1.0" },
        code: 7,
        msg: /annotation cni\.anchor\.org\/subnet "10\.0\.1\.0": not a CIDR/,
      },
      {
        what: "a malformed route",
        keys: BASE,
        args: { ...SUBNET, "cni.anchor.org/routes": "10.88.0.0/16" },
        code: 7,
        msg: /cni\.anchor\.org\/routes item "10\.88\.0\.0\/16"/,
      },
      {
        what: "an exhausted pool",
        keys: { ...BASE, "/anchor/ns/default": "10.0.1.[1-2]", "/anchor/cn/held": "10.0.1.2,x,default,y" },
        args: SUBNET,
        code: 102,
        msg: /no free address in subnet 10\.0\.1\.0\/24/,
      },
    ];
    for (const c of cases) {
      await s.wipe();
      await seed(s.store, c.keys);
      const r = await add("e", { args: c.args });
      assert.equal(r.code, 1, c.what);
      assert.equal(r.json?.code, c.code, `${c.what}: ${r.stdout}`);
      assert.match(r.json.msg + (r.json.details ?? ""), c.msg, c.what);
      const after = await dump(s.store);
      assert.deepEqual(Object.keys(after).filter((k) => !(k in c.keys)), [], `${c.what} wrote something`);
    }
    const badConf = await callAnchor({
      command: "ADD",
      id: "e",
      netns,
      conf: anchorConf(s, { args: SUBNET, ipam: { node_ips: ["10.0.1.300"] } }),
    });
    assert.equal(badConf.json.code, 7);
    assert.match(badConf.json.msg, /ipam\.node_ips\[0\]/);
    const noIpam = await callAnchor({
      command: "ADD",
      id: "e",
      netns,
      conf: { cniVersion: "1.1.0", name: "n", type: "anchor" },
    });
    assert.equal(noIpam.json.code, 7);
    assert.match(noIpam.json.msg, /ipam/);
  });

  await step("STATUS reports a reachable store", async () => {
    const r = await callAnchor({ command: "STATUS", netns, conf: anchorConf(s) });
    assert.equal(r.code, 0, r.stdout);
  });
});

Deno.test("an unreachable etcd is 'try again later' (11) for ADD, DEL and GC, and STATUS says unavailable (50)", async () => {
  const ns = await TempNetns.create(["anchor"]);
  try {
    const dead = {
      kind: "etcd",
      ipam: { etcd_endpoints: "http://127.0.0.1:1", etcd_timeout_ms: 1000 },
    } as unknown as AnchorStore;
    const conf = anchorConf(dead, { args: SUBNET });
    for (const command of ["ADD", "DEL", "GC"] as const) {
      const r = await callAnchor({
        command,
        id: "c",
        netns: ns.path(0),
        conf: { ...conf, "cni.dev/valid-attachments": [] },
      });
      assert.equal(r.json?.code, 11, `${command}: ${r.stdout}`);
    }
    const status = await callAnchor({ command: "STATUS", netns: ns.path(0), conf });
    assert.equal(status.json?.code, 50, status.stdout);
  } finally {
    await ns.cleanup();
  }
});

Deno.test("in process, as octopus calls it: anchorIpam binds the verbs and throws anchor's CniErrors", async () => {
  const { anchorIpam } = await import("../mod/anchor/plugin.ts");
  const { CniError } = await import("../mod/cni/errors.ts");
  const s = await openAnchorStore("file");
  try {
    await seed(s.store, BASE);
    const env = {
      command: "ADD",
      containerId: "inproc",
      netns: "",
      ifname: "eth0",
      args: new Map([["K8S_POD_NAMESPACE", "default"]]),
      path: [],
    };
    const netConf = {
      ...anchorConf(s, { args: SUBNET }),
      cniVersion: "1.0.0",
      name: "octonet",
      type: "octopus",
    } as never;
    const ipam = await anchorIpam(netConf, env);
    const { result, reused } = await ipam.add();
    assert.deepEqual(result.ips, [{ address: "10.0.1.2/24", gateway: "10.0.1.1" }]);
    assert.equal(reused, false, "the first ADD made the allocation");
    const again = await ipam.add();
    assert.deepEqual(
      [again.result.ips, again.reused],
      [result.ips, true],
      "a repeated ADD says it made nothing",
    );
    assert.equal((await records(s.store)).get("inproc")![6], "octonet");
    await ipam.del();
    assert.equal((await records(s.store)).size, 0);
    await s.wipe();
    await assert.rejects(
      ipam.add(),
      (e: unknown) => e instanceof CniError && e.code === 103 && /no gateway for subnet/.test(e.msg),
    );
  } finally {
    await s.close();
  }
});
