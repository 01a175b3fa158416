/**
 * octopus end to end: the real plugin process inside a simulated node namespace, real macvlans on
 * veth masters, host-local from Debian's reference plugins, checked with `ip -j`.
 */
import assert from "node:assert/strict";
import { ipJson, sh } from "./lib/netns.ts";
import { hostLocal, hostLocalAllocations, OctopusLab, reaches } from "./lib/octopus_lab.ts";

const OCTOPUS = { "10.0.1.0/24": "eth0.2", "10.0.2.0/24": "eth0.3" };

function conf(lab: OctopusLab, lan: number, extra: Record<string, unknown> = {}) {
  const l = lab.lans[lan];
  return {
    cniVersion: "1.0.0",
    name: "lan",
    type: "octopus",
    octopus: OCTOPUS,
    ipam: hostLocal(lab, l.subnet, l.gateway),
    ...extra,
  };
}

Deno.test("octopus ADD with host-local: macvlan on the subnet's master, addressed, routed, reachable", async () => {
  await using lab = await OctopusLab.create(2);
  const dns = { nameservers: ["10.0.1.1"], search: ["lab.local"] };
  const a = await lab.octopus("ADD", 0, conf(lab, 0, { dns }));
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const b = await lab.octopus("ADD", 1, conf(lab, 0));
  assert.equal(b.code, 0, b.stdout + b.stderr);

  const r = a.json;
  assert.equal(r.cniVersion, "1.0.0");
  assert.equal(r.interfaces.length, 1);
  assert.equal(r.interfaces[0].name, "eth0");
  assert.equal(r.interfaces[0].sandbox, lab.podPath(0));
  assert.equal(r.ips[0].interface, 0);
  assert.equal(r.ips[0].address, "10.0.1.10/24");
  assert.equal(r.ips[0].gateway, "10.0.1.1");
  assert.equal(b.json.ips[0].address, "10.0.1.11/24");
  assert.deepEqual(r.dns, dns);

  const [link] = await ipJson(lab.pods[0], "-d", "link", "show", "eth0");
  assert.equal(link.linkinfo.info_kind, "macvlan");
  assert.equal(link.linkinfo.info_data.mode, "bridge");
  assert.equal(link.link_index, await lab.nodeIfindex("eth0.2"), "parent is eth0.2 in the node");
  assert.equal(link.address, r.interfaces[0].mac);
  assert.ok(link.flags.includes("UP"));
  const [addr] = await ipJson(lab.pods[0], "addr", "show", "eth0");
  assert.ok(addr.addr_info.some((i: any) => i.local === "10.0.1.10" && i.prefixlen === 24));
  const routes = await ipJson(lab.pods[0], "route", "show", "default");
  assert.deepEqual(routes.map((x: any) => [x.gateway, x.dev]), [["10.0.1.1", "eth0"]]);
  assert.equal(
    (await sh("ip", "netns", "exec", lab.pods[0], "cat", "/proc/sys/net/ipv4/conf/eth0/proxy_arp")).trim(),
    "1",
  );
  // Nothing of the pod's shows up in the node: the macvlan was born inside the pod.
  const nodeLinks = await ipJson(lab.node, "link", "show");
  assert.deepEqual(nodeLinks.map((l: any) => l.ifname).sort(), ["eth0.2", "eth0.3", "lo"]);

  assert.ok(
    await reaches(lab.pods[0], "10.0.1.11", lab.pods[1]),
    "pod to pod on the same master (bridge mode)",
  );
  assert.ok(await reaches(lab.pods[0], "10.0.1.1", lab.lans[0].ns), "pod to the LAN gateway");
});

Deno.test("octopus picks the master by address for a non-anchor IPAM", async () => {
  await using lab = await OctopusLab.create(1);
  const r = await lab.octopus("ADD", 0, conf(lab, 1));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.json.ips[0].address, "10.0.2.10/24");
  const [link] = await ipJson(lab.pods[0], "-d", "link", "show", "eth0");
  assert.equal(link.link_index, await lab.nodeIfindex("eth0.3"));
  assert.ok(await reaches(lab.pods[0], "10.0.2.1", lab.lans[1].ns));
});

Deno.test("octopus CHECK passes on a fresh pod and fails once the address is gone", async () => {
  await using lab = await OctopusLab.create(1);
  const c = conf(lab, 0);
  const add = await lab.octopus("ADD", 0, c);
  assert.equal(add.code, 0, add.stdout);
  const ok = await lab.octopus("CHECK", 0, { ...c, prevResult: add.json });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  await sh("ip", "-n", lab.pods[0], "addr", "del", "10.0.1.10/24", "dev", "eth0");
  const bad = await lab.octopus("CHECK", 0, { ...c, prevResult: add.json });
  assert.equal(bad.code, 1);
  assert.equal(bad.json.code, 105);
  assert.match(bad.json.msg, /address of eth0/);
});

Deno.test("octopus CHECK notices a macvlan in another mode", async () => {
  await using lab = await OctopusLab.create(1);
  const c = conf(lab, 0, { mode: "private" });
  const add = await lab.octopus("ADD", 0, c);
  assert.equal(add.code, 0, add.stdout);
  const [link] = await ipJson(lab.pods[0], "-d", "link", "show", "eth0");
  assert.equal(link.linkinfo.info_data.mode, "private");
  const bad = await lab.octopus("CHECK", 0, { ...conf(lab, 0, { mode: "vepa" }), prevResult: add.json });
  assert.equal(bad.json?.code, 105, bad.stdout);
  assert.match(bad.json.details, /expected vepa, found private/);
});

Deno.test("octopus DEL releases the address and the link, and is idempotent", async () => {
  await using lab = await OctopusLab.create(1);
  const c = conf(lab, 0);
  assert.equal((await lab.octopus("ADD", 0, c)).code, 0);
  assert.deepEqual(hostLocalAllocations(lab, "lan"), ["10.0.1.10"]);
  for (const round of [1, 2]) {
    const d = await lab.octopus("DEL", 0, c);
    assert.equal(d.code, 0, `DEL #${round}: ${d.stdout}${d.stderr}`);
    assert.deepEqual(await ipJson(lab.pods[0], "link", "show", "eth0").catch(() => []), []);
    assert.deepEqual(hostLocalAllocations(lab, "lan"), []);
  }
});

Deno.test("octopus DEL after the pod namespace is gone still releases the address", async () => {
  await using lab = await OctopusLab.create(1);
  const c = conf(lab, 0);
  assert.equal((await lab.octopus("ADD", 0, c)).code, 0);
  await sh("ip", "netns", "del", lab.pods[0]);
  const d = await lab.octopus("DEL", 0, c);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  assert.deepEqual(hostLocalAllocations(lab, "lan"), []);
  // With no CNI_NETNS at all, as a runtime may send it.
  const again = await lab.octopus("DEL", 0, c, { noNetns: true });
  assert.equal(again.code, 0, again.stdout);
});

Deno.test("octopus refuses an address on no known subnet (103) and releases it", async () => {
  await using lab = await OctopusLab.create(1);
  const c = { ...conf(lab, 0), ipam: hostLocal(lab, "10.0.9.0/24", "10.0.9.1") };
  const r = await lab.octopus("ADD", 0, c);
  assert.equal(r.code, 1);
  assert.equal(r.json.code, 103);
  assert.match(r.json.msg, /no master interface for address 10\.0\.9\.10\/24/);
  assert.match(r.json.details, /10\.0\.1\.0\/24, 10\.0\.2\.0\/24/);
  assert.deepEqual(hostLocalAllocations(lab, "lan"), [], "host-local allocation released");
  assert.deepEqual((await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname), ["lo"]);
});

Deno.test("octopus refuses a master that is down or missing (103) and releases the address", async () => {
  await using lab = await OctopusLab.create(1);
  await sh("ip", "-n", lab.node, "link", "set", "eth0.2", "down");
  const down = await lab.octopus("ADD", 0, conf(lab, 0));
  assert.equal(down.json?.code, 103, down.stdout);
  assert.match(down.json.msg, /master interface eth0\.2 for subnet 10\.0\.1\.0\/24 is down/);
  assert.deepEqual(hostLocalAllocations(lab, "lan"), []);

  const missing = await lab.octopus("ADD", 0, conf(lab, 0, { octopus: { "10.0.1.0/24": "eth0.9" } }));
  assert.equal(missing.json?.code, 103, missing.stdout);
  assert.match(missing.json.msg, /master interface eth0\.9 for subnet 10\.0\.1\.0\/24 does not exist/);
  assert.deepEqual(hostLocalAllocations(lab, "lan"), []);
  assert.deepEqual((await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname), ["lo"]);
});

Deno.test("octopus matches a subnet annotation written differently, and refuses an unknown one before IPAM", async () => {
  await using lab = await OctopusLab.create(1);
  // The annotation names 10.0.2.0/24 by one of its hosts; the address comes from the other LAN's
  // range on purpose, so only the annotation can have chosen eth0.3.
  const c = conf(lab, 0, { args: { cni: { "cni.anchor.org/subnet": "10.0.2.7/24" } } });
  const r = await lab.octopus("ADD", 0, c);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const [link] = await ipJson(lab.pods[0], "-d", "link", "show", "eth0");
  assert.equal(link.link_index, await lab.nodeIfindex("eth0.3"));
  assert.equal((await lab.octopus("DEL", 0, c)).code, 0);

  const unknown = conf(lab, 0, { runtimeConfig: { "cni.anchor.org/subnet": "10.0.5.0/24" } });
  const u = await lab.octopus("ADD", 0, unknown);
  assert.equal(u.json?.code, 103, u.stdout);
  assert.match(u.json.msg, /subnet 10\.0\.5\.0\/24/);
  assert.deepEqual(hostLocalAllocations(lab, "lan"), []);
});

Deno.test("octopus rejects bad configs with code 7 naming the field", async () => {
  await using lab = await OctopusLab.create(1);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ octopus: undefined }, /octopus must be an object/],
    [{ octopus: {} }, /octopus maps no subnet/],
    [{ octopus: { "10.0.1.0/33": "eth0.2" } }, /octopus\["10\.0\.1\.0\/33"\] is not a subnet/],
    [{ octopus: { "10.0.1.0/24": "bad name" } }, /must name a master interface/],
    [{ mode: "fast" }, /mode must be one of bridge, private, vepa, passthru/],
    [{ mtu: 20 }, /mtu must be an integer/],
    [{ ipam: {} }, /ipam\.type/],
  ];
  for (const [extra, msg] of cases) {
    const r = await lab.octopus("ADD", 0, conf(lab, 0, extra));
    assert.equal(r.json?.code, 7, `${JSON.stringify(extra)}: ${r.stdout}`);
    assert.match(r.json.msg, msg);
  }
  assert.deepEqual(hostLocalAllocations(lab, "lan"), []);
});

Deno.test("octopus rolls back the link and the address when a later step fails", async () => {
  await using lab = await OctopusLab.create(1);
  // A route via a gateway outside the pod's subnet: the kernel refuses it after the macvlan exists.
  const ipam = {
    ...hostLocal(lab, "10.0.1.0/24", "10.0.1.1"),
    routes: [{ dst: "10.99.0.0/16", gw: "10.55.0.1" }],
  };
  const r = await lab.octopus("ADD", 0, conf(lab, 0, { ipam }));
  assert.equal(r.json?.code, 101, r.stdout + r.stderr);
  assert.equal(r.json.details, "ENETUNREACH");
  assert.deepEqual(
    (await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname),
    ["lo"],
    "macvlan removed",
  );
  assert.deepEqual(hostLocalAllocations(lab, "lan"), [], "address released");
});

Deno.test("octopus leaves an existing interface of the requested name alone and cleans up after itself", async () => {
  await using lab = await OctopusLab.create(1);
  await sh("ip", "-n", lab.pods[0], "link", "add", "eth0", "type", "veth", "peer", "name", "other");
  const r = await lab.octopus("ADD", 0, conf(lab, 0, { mtu: 1400 }));
  assert.equal(r.json?.code, 101, r.stdout + r.stderr);
  assert.equal(r.json.details, "EEXIST");
  const names = (await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname).sort();
  assert.deepEqual(names, ["eth0", "lo", "other"], "no temporary link left, the veth untouched");
  assert.deepEqual(hostLocalAllocations(lab, "lan"), []);
  // DEL of that name must not delete someone else's veth either.
  assert.equal((await lab.octopus("DEL", 0, conf(lab, 0))).code, 0);
  assert.ok((await ipJson(lab.pods[0], "link", "show", "eth0")).length === 1);
  await sh("ip", "-n", lab.pods[0], "link", "del", "eth0");
  const ok = await lab.octopus("ADD", 0, conf(lab, 0, { mtu: 1400 }));
  assert.equal(ok.code, 0, ok.stdout);
  const [link] = await ipJson(lab.pods[0], "link", "show", "eth0");
  assert.equal(link.mtu, 1400);
});
