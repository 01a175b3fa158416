/**
 * mod/netlink against the real kernel, inside namespaces each test creates and deletes.
 * Results are read back with iproute2 (`ip -j`), an independent reader.
 */
import assert from "node:assert/strict";
import {
  AsyncInNetnsError,
  formatIp,
  Handle,
  isErrno,
  isNotFound,
  linkAddInNetns,
  NetlinkError,
  Netns,
  NotNetnsError,
  parseCidr,
  parseIp,
  sysctlGet,
  withNetns,
} from "../mod/netlink/mod.ts";
import {
  getStr,
  getU16be,
  getU32,
  getU8,
  MessageBuilder,
  parseAttrs,
  parseMessages,
} from "../mod/netlink/nl/mod.ts";
import { ipJson, nsExec, sh, type TempNetns, withTempNetns } from "./lib/netns.ts";

/** Fresh namespaces with a Handle on each; everything is closed and deleted afterwards. */
function withHandles(
  labels: string[],
  fn: (names: string[], hs: Handle[], ns: TempNetns) => Promise<void> | void,
): Promise<void> {
  return withTempNetns(labels, async (names, ns) => {
    const hs: Handle[] = [];
    try {
      for (let i = 0; i < names.length; i++) hs.push(Handle.open(ns.path(i)));
      await fn(names, hs, ns);
    } finally {
      for (const h of hs) h.close();
    }
  });
}

// deno-lint-ignore no-explicit-any
async function ipLink(ns: string, name: string): Promise<any> {
  const [link] = await ipJson(ns, "-d", "link", "show", "dev", name);
  return link;
}

async function linkNames(ns: string): Promise<string[]> {
  return (await ipJson<{ ifname: string }[]>(ns, "link", "show")).map((l) => l.ifname).sort();
}

Deno.test("inet: addresses round-trip in iproute2's spelling and bad text is refused", () => {
  for (
    const s of ["10.0.0.1", "fd00::1", "::", "::1", "fe80::a:0:0:1", "2001:db8::1:0:0:1", "::ffff:1.2.3.4"]
  ) {
    assert.equal(formatIp(parseIp(s).bytes), s);
  }
  assert.equal(formatIp(parseIp("2001:0db8:0000:0000:0000:0000:0000:0001").bytes), "2001:db8::1");
  for (const s of ["1.2.3", "10.0.0.256", "::1::2", "1:2:3:4:5:6:7:8:9", "g::1", "eth0"]) {
    assert.throws(() => parseIp(s), /not an IP address/);
  }
  assert.deepEqual({ ...parseCidr("fd00::/64"), bytes: undefined }, {
    family: 6,
    prefixLen: 64,
    bytes: undefined,
  });
  assert.throws(() => parseCidr("10.0.0.0/33"), /address\/prefix/);
});

Deno.test("codec: attributes are aligned, nested and read back; messages split on their lengths", () => {
  const b = new MessageBuilder(16, 0x400);
  b.ifinfo(7, 1, 1);
  b.str(3, "abcde").u8(9, 5).u16be(15, 4789);
  const outer = b.nest(18);
  b.str(1, "vxlan");
  const inner = b.nest(2);
  b.u32(1, 0xfffffffe).end(inner).end(outer);
  const one = b.finish(42, 1).slice();
  assert.equal(one.length % 4, 0);
  const both = new Uint8Array(one.length * 2);
  both.set(one);
  both.set(one, one.length);
  const msgs = parseMessages(both, both.length);
  assert.equal(msgs.length, 2);
  assert.deepEqual([msgs[1].type, msgs[1].flags, msgs[1].seq], [16, 0x401, 42]);
  const a = parseAttrs(msgs[0].data, 16);
  assert.equal(getStr(a.get(3)), "abcde");
  assert.equal(getU8(a.get(9)), 5);
  assert.equal(getU16be(a.get(15)), 4789);
  const info = parseAttrs(a.get(18)!);
  assert.equal(getStr(info.get(1)), "vxlan");
  assert.equal(getU32(parseAttrs(info.get(2)!).get(1)), 0xfffffffe);
  // A truncated datagram yields only the whole messages in it.
  assert.equal(parseMessages(both, one.length + 8).length, 1);
});

Deno.test("veth: created with its peer directly in another namespace", async () => {
  await withHandles(["a", "b"], async ([a, b], [ha, hb]) => {
    ha.linkAdd({ kind: "veth", name: "va", mtu: 1400, peer: { name: "vb", nsFd: hb.nsFd }, up: true });
    hb.linkSetUp("vb");
    const ka = await ipLink(a, "va");
    const kb = await ipLink(b, "vb");
    assert.equal(ka.linkinfo.info_kind, "veth");
    assert.equal(kb.linkinfo.info_kind, "veth");
    assert.equal(ka.mtu, 1400);
    assert.equal(kb.mtu, 1400, "the peer follows the pair's MTU");
    assert.ok(ka.flags.includes("UP") && kb.flags.includes("UP"));
    assert.deepEqual(await linkNames(a), ["lo", "va"]);
    assert.deepEqual(await linkNames(b), ["lo", "vb"]);

    const va = ha.linkByName("va")!;
    const vb = hb.linkByName("vb")!;
    assert.equal(va.index, ka.ifindex);
    assert.equal(va.mac, ka.address);
    assert.equal(va.kind, "veth");
    assert.equal(va.peerIndex, vb.index);
    assert.equal(vb.peerIndex, va.index);
    assert.equal(va.linkNetnsId, ka.link_netnsid);
    assert.equal(va.up, true);
    assert.deepEqual(ha.linkByIndex(va.index), va);
    assert.equal(ha.linkByName("vb"), undefined, "the peer is not in a");
    assert.deepEqual(ha.linkList().map((l) => l.name).sort(), ["lo", "va"]);

    ha.linkDel("va");
    assert.deepEqual(await linkNames(b), ["lo"], "deleting one end removes the pair");
  });
});

Deno.test("macvlan: each mode on a veth master, with MTU, also created straight into another ns", async () => {
  await withHandles(["host", "pod"], async ([host, pod], [hh, hp]) => {
    hh.linkAdd({ kind: "veth", name: "m0", peer: { name: "m0p" } });
    for (const mode of ["bridge", "private", "vepa", "passthru"] as const) {
      hh.linkAdd({ kind: "macvlan", name: `mv-${mode}`, master: "m0", mode, mtu: 1300 });
      const k = await ipLink(host, `mv-${mode}`);
      assert.equal(k.linkinfo.info_kind, "macvlan");
      assert.equal(k.linkinfo.info_data.mode, mode);
      assert.equal(k.link, "m0");
      assert.equal(k.mtu, 1300);
      const l = hh.linkByName(`mv-${mode}`)!;
      assert.deepEqual(l.macvlan, { mode });
      assert.equal(l.parentIndex, hh.linkByName("m0")!.index);
      // passthru allows one macvlan per master; start each mode from a clean master.
      hh.linkDel(`mv-${mode}`);
    }
    hh.linkAdd({ kind: "macvlan", name: "mvp", master: "m0", nsFd: hp.nsFd });
    const k = await ipLink(pod, "mvp");
    assert.equal(k.linkinfo.info_data.mode, "bridge", "bridge is the default mode");
    assert.equal(hh.linkByName("mvp"), undefined);
  });
});

Deno.test("vxlan: over a veth underlay, MTU defaults to the underlay's minus 50 (70 for IPv6)", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.linkAdd({ kind: "veth", name: "under", mtu: 1400, peer: { name: "underp" } });
    h.addrAdd("under", "192.0.2.1/24");
    h.linkAdd({
      kind: "vxlan",
      name: "vx0",
      id: 42,
      remote: "192.0.2.2",
      local: "192.0.2.1",
      underlay: "under",
    });
    const k = await ipLink(a, "vx0");
    assert.equal(k.mtu, 1350);
    assert.equal(k.linkinfo.info_data.id, 42);
    assert.equal(k.linkinfo.info_data.remote, "192.0.2.2");
    assert.equal(k.linkinfo.info_data.local, "192.0.2.1");
    assert.equal(k.linkinfo.info_data.port, 4789);
    assert.equal(k.linkinfo.info_data.link, "under");
    assert.equal(k.linkinfo.info_data.learning, false);
    const l = h.linkByName("vx0")!;
    assert.deepEqual(l.vxlan, {
      id: 42,
      remote: "192.0.2.2",
      local: "192.0.2.1",
      port: 4789,
      underlayIndex: h.linkByName("under")!.index,
      learning: false,
    });

    h.linkAdd({ kind: "vxlan", name: "vx6", id: 7, remote: "fd00::2", underlay: "under", port: 8472 });
    const k6 = await ipLink(a, "vx6");
    assert.equal(k6.mtu, 1330);
    assert.equal(k6.linkinfo.info_data.remote6, "fd00::2");
    assert.equal(k6.linkinfo.info_data.port, 8472);

    h.linkAdd({ kind: "vxlan", name: "vx9", id: 9, remote: "192.0.2.3", underlay: "under", mtu: 1200 });
    assert.equal((await ipLink(a, "vx9")).mtu, 1200, "an explicit MTU wins");
  });
});

Deno.test("bridge: created, and a veth end enslaved and freed", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.linkAdd({ kind: "bridge", name: "br0", up: true });
    h.linkAdd({ kind: "veth", name: "p0", peer: { name: "p0p" } });
    h.linkSetMaster("p0", "br0");
    const k = await ipLink(a, "br0");
    assert.equal(k.linkinfo.info_kind, "bridge");
    assert.ok(k.flags.includes("UP"));
    assert.equal((await ipLink(a, "p0")).master, "br0");
    assert.equal(h.linkByName("p0")!.masterIndex, k.ifindex);
    h.linkSetMaster("p0", undefined);
    assert.equal((await ipLink(a, "p0")).master, undefined);
  });
});

Deno.test("link changes: mtu, mac, rename, up and down", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.linkAdd({ kind: "veth", name: "c0", peer: { name: "c0p" } });
    h.linkSetMtu("c0", 1280);
    h.linkSetMac("c0", "02:00:00:00:00:42");
    h.linkSetUp("c0");
    let k = await ipLink(a, "c0");
    assert.equal(k.mtu, 1280);
    assert.equal(k.address, "02:00:00:00:00:42");
    assert.ok(k.flags.includes("UP"));
    h.linkSetDown("c0");
    h.linkRename("c0", "renamed0");
    k = await ipLink(a, "renamed0");
    assert.ok(!k.flags.includes("UP"));
    assert.deepEqual(await linkNames(a), ["c0p", "lo", "renamed0"]);
    const l = h.linkByName("renamed0")!;
    assert.equal(l.mtu, 1280);
    assert.equal(l.mac, "02:00:00:00:00:42");
    assert.equal(l.up, false);
    // By ifindex works as well as by name.
    h.linkSetUp(l.index);
    assert.equal(h.linkByIndex(l.index)!.up, true);
  });
});

Deno.test("move: a link goes to another namespace by fd", async () => {
  await withHandles(["a", "b"], async ([a, b], [ha, hb]) => {
    ha.linkAdd({ kind: "veth", name: "mv0", peer: { name: "mv0p" } });
    ha.linkSetNetnsFd("mv0", hb.nsFd);
    assert.deepEqual(await linkNames(a), ["lo", "mv0p"]);
    assert.deepEqual(await linkNames(b), ["lo", "mv0"]);
    hb.linkSetNetnsFd("mv0", ha);
    assert.deepEqual(await linkNames(a), ["lo", "mv0", "mv0p"]);
  });
});

Deno.test("addresses: IPv4 and IPv6 added, listed with prefix, deleted", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.linkAdd({ kind: "veth", name: "ad0", peer: { name: "ad0p" }, up: true });
    h.addrAdd("ad0", "10.1.2.3/24");
    h.addrAdd("ad0", "10.1.3.3/30");
    h.addrAdd("ad0", "fd00:1::5/64", { noDad: true });
    // deno-lint-ignore no-explicit-any
    const kernel = (await ipJson<any[]>(a, "addr", "show", "dev", "ad0"))[0].addr_info
      .filter((x: { scope: string }) => x.scope === "global")
      .map((x: { local: string; prefixlen: number }) => `${x.local}/${x.prefixlen}`)
      .sort();
    assert.deepEqual(kernel, ["10.1.2.3/24", "10.1.3.3/30", "fd00:1::5/64"]);

    const ours = h.addrList("ad0").filter((x) => x.scope === "global").map((x) => x.cidr).sort();
    assert.deepEqual(ours, kernel);
    const v6 = h.addrList("ad0", 6);
    assert.ok(v6.every((x) => x.family === 6));
    assert.ok(v6.some((x) => x.address === "fd00:1::5" && x.prefixLen === 64));
    assert.equal(h.addrList("lo", 4).length, 1);
    assert.equal(h.addrList(undefined, 4).filter((x) => x.address === "10.1.2.3").length, 1);

    assert.throws(() => h.addrAdd("ad0", "10.1.2.3/24"), (e) => isErrno(e, "EEXIST"));
    h.addrDel("ad0", "10.1.2.3/24");
    h.addrDel("ad0", "fd00:1::5/64");
    // deno-lint-ignore no-explicit-any
    const left = (await ipJson<any[]>(a, "addr", "show", "dev", "ad0"))[0].addr_info
      .filter((x: { scope: string }) => x.scope === "global").map((x: { local: string }) => x.local);
    assert.deepEqual(left, ["10.1.3.3"]);
    assert.throws(() => h.addrDel("ad0", "10.1.2.3/24"), (e) => isErrno(e, "EADDRNOTAVAIL"));
    assert.throws(() => h.addrAdd("nosuch0", "10.9.9.9/24"), (e) => isNotFound(e));
  });
});

Deno.test("routes: IPv4 and IPv6, default included, added, replaced, listed, deleted", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.linkAdd({ kind: "veth", name: "r0", peer: { name: "r0p" }, up: true });
    h.linkAdd({ kind: "veth", name: "r1", peer: { name: "r1p" }, up: true });
    h.linkSetUp("r0p");
    h.linkSetUp("r1p");
    h.addrAdd("r0", "10.2.0.1/24");
    h.addrAdd("r1", "10.3.0.1/24");
    h.addrAdd("r0", "fd00:2::1/64", { noDad: true });

    h.routeAdd({ dst: "10.20.0.0/16", gw: "10.2.0.254" });
    h.routeAdd({ dst: "default", gw: "10.2.0.254" });
    h.routeAdd({ dst: "10.30.0.0/16", dev: "r1" });
    h.routeAdd({ dst: "default", gw: "fd00:2::fe", dev: "r0" });
    h.routeAdd({ dst: "fd00:99::/48", gw: "fd00:2::fe" });

    // deno-lint-ignore no-explicit-any
    const v4 = await ipJson<any[]>(a, "route", "show");
    const find = (dst: string) => v4.find((r) => r.dst === dst);
    assert.deepEqual([find("default").gateway, find("default").dev], ["10.2.0.254", "r0"]);
    assert.equal(find("10.20.0.0/16").gateway, "10.2.0.254");
    assert.deepEqual([find("10.30.0.0/16").dev, find("10.30.0.0/16").scope], ["r1", "link"]);
    // deno-lint-ignore no-explicit-any
    const v6 = await ipJson<any[]>(a, "-6", "route", "show");
    assert.equal(v6.find((r) => r.dst === "default").gateway, "fd00:2::fe");
    assert.equal(v6.find((r) => r.dst === "fd00:99::/48").dev, "r0");

    const ours = h.routeList();
    const def4 = ours.find((r) => r.family === 4 && r.dst === "default")!;
    assert.deepEqual([def4.gw, def4.dev, def4.scope, def4.table], ["10.2.0.254", "r0", "global", 254]);
    assert.ok(ours.some((r) => r.family === 6 && r.dst === "default" && r.gw === "fd00:2::fe"));
    assert.ok(ours.some((r) => r.dst === "10.30.0.0/16" && r.dev === "r1" && r.scope === "link"));
    assert.deepEqual(h.routeList({ dev: "r1", family: 4 }).map((r) => r.dst).sort(), [
      "10.3.0.0/24",
      "10.30.0.0/16",
    ]);

    assert.throws(() => h.routeAdd({ dst: "default", gw: "10.2.0.254" }), (e) => isErrno(e, "EEXIST"));
    h.routeReplace({ dst: "default", gw: "10.3.0.254" });
    h.routeReplace({ dst: "10.40.0.0/16", gw: "10.3.0.254" });
    // deno-lint-ignore no-explicit-any
    const after = await ipJson<any[]>(a, "route", "show");
    assert.deepEqual(
      after.filter((r) => r.dst === "default").map((r) => [r.gateway, r.dev]),
      [["10.3.0.254", "r1"]],
      "replace swaps the default route rather than adding a second",
    );
    assert.ok(after.some((r) => r.dst === "10.40.0.0/16"), "replace creates a missing route");

    h.routeDel({ dst: "default" });
    h.routeDel({ dst: "10.20.0.0/16", gw: "10.2.0.254" });
    h.routeDel({ dst: "default", family: 6 });
    // deno-lint-ignore no-explicit-any
    const left = (await ipJson<any[]>(a, "route", "show")).map((r) => r.dst);
    assert.ok(!left.includes("default") && !left.includes("10.20.0.0/16"));
    // deno-lint-ignore no-explicit-any
    assert.ok(!(await ipJson<any[]>(a, "-6", "route", "show")).some((r) => r.dst === "default"));
    assert.throws(() => h.routeDel({ dst: "10.20.0.0/16" }), (e) => isNotFound(e));
    assert.throws(() => h.routeAdd({ dst: "10.0.0.0/8", gw: "fd00::1" }), /mixes IPv4 and IPv6/);
  });
});

Deno.test("sysctl: written and read inside the namespace only", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.linkAdd({ kind: "veth", name: "s0", peer: { name: "s0p" } });
    h.sysctlSet("net.ipv4.conf.s0.proxy_arp", 1);
    h.sysctlSet("net/ipv6/conf/s0/disable_ipv6", "1");
    assert.equal((await nsExec(a, "cat", "/proc/sys/net/ipv4/conf/s0/proxy_arp")).trim(), "1");
    assert.equal((await nsExec(a, "cat", "/proc/sys/net/ipv6/conf/s0/disable_ipv6")).trim(), "1");
    assert.equal(h.sysctlGet("net.ipv4.conf.s0.proxy_arp"), "1");
    h.sysctlSet("net.ipv6.conf.s0.disable_ipv6", 0);
    assert.equal((await nsExec(a, "cat", "/proc/sys/net/ipv6/conf/s0/disable_ipv6")).trim(), "0");
    // Outside the block the JS thread is back home, where s0 does not exist.
    assert.throws(() => sysctlGet("net.ipv4.conf.s0.proxy_arp"), (e) => isNotFound(e));
    assert.throws(() => h.sysctlSet("net.ipv4.conf.nosuch0.proxy_arp", 1), (e) => isErrno(e, "ENOENT"));
    assert.throws(() => h.sysctlSet("net/../../etc/x", 1), /bad sysctl key/);
  });
});

Deno.test("withNetns: runs synchronously inside, always returns, refuses async blocks", async () => {
  await withTempNetns(["a"], async ([a], ns) => {
    const home = Deno.readLinkSync("/proc/thread-self/ns/net");
    const want = `net:[${(await sh("stat", "-L", "-c", "%i", ns.path(0))).trim()}]`;
    assert.notEqual(home, want);
    assert.equal(withNetns(ns.path(0), () => Deno.readLinkSync("/proc/thread-self/ns/net")), want);
    assert.equal(Deno.readLinkSync("/proc/thread-self/ns/net"), home);

    assert.throws(() =>
      withNetns(ns.path(0), () => {
        throw new Error("boom");
      }), /boom/);
    assert.equal(Deno.readLinkSync("/proc/thread-self/ns/net"), home, "back home after a throw");

    assert.throws(() => withNetns(ns.path(0), async () => {}), AsyncInNetnsError);
    assert.equal(Deno.readLinkSync("/proc/thread-self/ns/net"), home);

    // A socket opened inside stays bound to the namespace after the thread returns, including a
    // Handle opened without a path (the calling thread's namespace at that moment).
    const here = withNetns(ns.path(0), () => Handle.open());
    try {
      here.linkAdd({ kind: "bridge", name: "here0" });
      assert.deepEqual(here.linkList().map((l) => l.name).sort(), ["here0", "lo"]);
    } finally {
      here.close();
    }
    const h = Handle.open(ns.path(0));
    try {
      h.linkAdd({ kind: "bridge", name: "inside0" });
      assert.deepEqual(await linkNames(a), ["here0", "inside0", "lo"]);
    } finally {
      h.close();
    }
  });
});

Deno.test("netns: paths that are not network namespaces are refused with a clear error", async () => {
  assert.throws(
    () => Netns.open("/etc/hostname"),
    (e) => e instanceof NotNetnsError && /not a namespace file/.test(e.message),
  );
  assert.throws(
    () => Netns.open("/proc/self/ns/mnt"),
    (e) => e instanceof NotNetnsError && /mnt namespace/.test(e.message),
  );
  assert.throws(() => Handle.open("/proc/self/ns/uts"), NotNetnsError);
  assert.throws(
    () => Handle.open("/run/netns/rt-does-not-exist"),
    (e) => isNotFound(e) && isErrno(e, "ENOENT"),
  );
  const self = Netns.open(`/proc/${Deno.pid}/ns/net`);
  self.close();
  await Promise.resolve();
});

Deno.test("errors: a duplicate is a typed EEXIST naming the operation", async () => {
  await withHandles(["a"], ([_a], [h]) => {
    h.linkAdd({ kind: "veth", name: "in1", peer: { name: "in1p" } });
    let caught: unknown;
    try {
      h.linkAdd({ kind: "veth", name: "in1", peer: { name: "in1q" } });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof NetlinkError);
    assert.equal(caught.errno, "EEXIST");
    assert.equal(caught.errnoNumber, 17);
    assert.equal(caught.op, "creating veth in1");
    assert.match(caught.message, /^EEXIST creating veth in1: File exists/);
    assert.equal(h.linkByName("in1q"), undefined, "the refused create left no peer behind");

    assert.equal(h.linkByName("nosuch0"), undefined);
    assert.throws(() => h.linkDel("nosuch0"), (e) => isNotFound(e) && isErrno(e, "ENODEV"));
    assert.throws(
      () => h.linkAdd({ kind: "macvlan", name: "mvx", master: "nosuch0" }),
      (e) => isErrno(e, "ENODEV") && /finding macvlan master/.test((e as Error).message),
    );
    // The kernel's extended ACK text travels in the message.
    assert.throws(
      () => h.linkSetMtu("in1", 10),
      (e) => isErrno(e, "EINVAL") && /mtu/i.test((e as Error).message),
    );
  });
});

Deno.test("move-in: created under a temporary name in the pod, renamed there, raised", async () => {
  await withHandles(["host", "pod"], async ([host, pod], [hh, hp]) => {
    hh.linkAdd({ kind: "veth", name: "up0", peer: { name: "up0p" }, up: true });
    const eth1 = linkAddInNetns(hh, hp, { kind: "macvlan", name: "eth1", master: "up0", up: true });
    assert.equal(eth1.name, "eth1");
    assert.equal(eth1.up, true);
    assert.deepEqual(await linkNames(pod), ["eth1", "lo"]);
    assert.ok((await ipLink(pod, "eth1")).flags.includes("UP"));

    const eth2 = linkAddInNetns(hh, hp, { kind: "veth", name: "eth2", peer: { name: "veth-h2" } }, {
      via: "move",
    });
    assert.equal(eth2.kind, "veth");
    assert.deepEqual(await linkNames(pod), ["eth1", "eth2", "lo"]);
    assert.deepEqual(await linkNames(host), ["lo", "up0", "up0p", "veth-h2"]);
  });
});

Deno.test("move-in: a failure rolls back everything it made, in both ways of getting there", async () => {
  await withHandles(["host", "pod"], async ([host, pod], [hh, hp]) => {
    hp.linkAdd({ kind: "bridge", name: "eth1" });
    for (const via of ["direct", "move"] as const) {
      assert.throws(
        () => linkAddInNetns(hh, hp, { kind: "veth", name: "eth1", peer: { name: "vh1" } }, { via }),
        (e) => isErrno(e, "EEXIST") && /renaming link/.test((e as Error).message),
      );
      assert.deepEqual(
        await linkNames(pod),
        ["eth1", "lo"],
        `no temporary interface left in the pod (${via})`,
      );
      assert.deepEqual(await linkNames(host), ["lo"], `no host end left behind (${via})`);
    }
    // A create that fails outright (missing master) leaves nothing either.
    assert.throws(
      () => linkAddInNetns(hh, hp, { kind: "macvlan", name: "eth2", master: "nosuch0" }),
      isNotFound,
    );
    assert.deepEqual(await linkNames(pod), ["eth1", "lo"]);
  });
});

Deno.test("garp: an announcement leaves the wire and the neighbour learns the MAC", async () => {
  await withHandles(["a", "b"], async ([_a, b], [ha, hb]) => {
    ha.linkAdd({ kind: "veth", name: "g0", peer: { name: "g0p", nsFd: hb.nsFd }, up: true });
    hb.linkSetUp("g0p");
    hb.addrAdd("g0p", "10.5.0.2/24");
    // Gratuitous ARP creates neighbour entries only where arp_accept allows it.
    hb.sysctlSet("net.ipv4.conf.g0p.arp_accept", 1);
    ha.addrAdd("g0", "10.5.0.1/24");
    ha.garp("g0", "10.5.0.1");
    ha.garp("g0", "10.5.0.1", { op: "reply", count: 2 });
    const mac = ha.linkByName("g0")!.mac;
    let entry: { dst: string; lladdr?: string } | undefined;
    for (let i = 0; i < 50 && !entry?.lladdr; i++) {
      entry = (await ipJson<{ dst: string; lladdr?: string }[]>(b, "neigh", "show", "dev", "g0p"))
        .find((n) => n.dst === "10.5.0.1");
      if (!entry?.lladdr) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(entry?.lladdr, mac);
    ha.linkSetDown("g0");
    assert.throws(() => ha.garp("g0", "10.5.0.1"), (e) => isErrno(e, "ENETDOWN"));
  });
});

Deno.test("promisc: IFF_PROMISC set and cleared by an RTM_NEWLINK change, as ip -j reads it", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.linkAdd({ kind: "veth", name: "pm0", peer: { name: "pm1" } });
    const promiscuity = async (dev: string) =>
      (await ipJson<{ promiscuity: number; flags: string[] }[]>(a, "-d", "link", "show", "dev", dev))[0];
    assert.equal((await promiscuity("pm0")).promiscuity, 0);
    assert.equal(h.linkByName("pm0")!.promisc, false);
    h.linkSetPromisc("pm0", true);
    const on = await promiscuity("pm0");
    assert.equal(on.promiscuity, 1);
    assert.ok(on.flags.includes("PROMISC"));
    assert.equal(h.linkByName("pm0")!.promisc, true);
    assert.equal(h.linkByName("pm0")!.up, false, "only the promisc flag changed");
    assert.equal((await promiscuity("pm1")).promiscuity, 0, "the peer is untouched");
    // Twice on is still one request (the flag, not a counter), and off clears it.
    h.linkSetPromisc("pm0", true);
    assert.equal((await promiscuity("pm0")).promiscuity, 1);
    h.linkSet("pm0", { up: true, promisc: false });
    const off = await promiscuity("pm0");
    assert.equal(off.promiscuity, 0);
    assert.ok(!off.flags.includes("PROMISC"));
    assert.ok(off.flags.includes("UP"), "both flags in one change");
  });
});

Deno.test("batch: many changes in one exchange; a refused one is reported, the rest applied", async () => {
  await withHandles(["a"], async ([a], [h]) => {
    h.batch(() => {
      for (let i = 0; i < 300; i++) h.linkAdd({ kind: "bridge", name: `bb${i}` });
    });
    assert.equal((await linkNames(a)).length, 301);
    assert.throws(
      () =>
        h.batch(() => {
          h.linkSetUp("bb1");
          h.linkAdd({ kind: "bridge", name: "bb2" });
          h.linkSetUp("bb3");
        }),
      (e) => e instanceof NetlinkError && e.errno === "EEXIST" && e.op === "creating bridge bb2",
    );
    assert.equal(h.linkByName("bb1")!.up, true);
    assert.equal(h.linkByName("bb3")!.up, true);
  });
});

Deno.test("Handle is Disposable: `using` closes the first handle when opening the second throws", () => {
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  const before = fds();
  assert.throws(() => {
    using host = Handle.open();
    using pod = Handle.open("/proc/self/ns/uts"); // not a network namespace
    host.linkByName(pod ? "lo" : "lo");
  });
  assert.equal(fds(), before, "no socket or namespace fd left open");
  const h = Handle.open();
  h.close();
  h[Symbol.dispose](); // closing twice is harmless
  assert.equal(fds(), before);
});
