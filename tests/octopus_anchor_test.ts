/**
 * octopus with anchor IPAM in process, over the file store, inside a simulated node; and as part
 * of a chained conflist run the way libcni runs one.
 */
import assert from "node:assert/strict";
import { openStore } from "../mod/store/mod.ts";
import { addNetworkList, checkNetworkList, delNetworkList } from "./lib/libcni.ts";
import { ipJson } from "./lib/netns.ts";
import { OctopusLab, reaches } from "./lib/octopus_lab.ts";

const OCTOPUS = { "10.0.1.0/24": "eth0.2", "10.0.2.0/24": "eth0.3" };

async function seedStore(dir: string): Promise<void> {
  const store = await openStore({ kind: "file", dir });
  try {
    await store.put("/anchor/ns/default", "10.0.1.[20-29],10.0.2.[20-29]");
    await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
    await store.put("/anchor/gw/10.0.2.0/24", "10.0.2.1");
  } finally {
    await store.close();
  }
}

async function allocations(dir: string): Promise<string[]> {
  const store = await openStore({ kind: "file", dir });
  try {
    return (await store.list("/anchor/cn/")).map((kv) => kv.value.split(",")[0]).sort();
  } finally {
    await store.close();
  }
}

function anchorConf(lab: OctopusLab, subnet: string, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: "1.0.0",
    name: "anchor",
    type: "octopus",
    octopus: OCTOPUS,
    args: { cni: { "cni.anchor.org/subnet": subnet } },
    ipam: { type: "anchor", store: `${lab.tmp}/store` },
    ...extra,
  };
}

const ARGS = (pod: string) => `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}`;

Deno.test("octopus + anchor (file store): the annotated subnet's master, the pool's address, released on DEL", async () => {
  await using lab = await OctopusLab.create(2);
  await seedStore(`${lab.tmp}/store`);
  const a = await lab.octopus("ADD", 0, anchorConf(lab, "10.0.2.0/24"), { cniArgs: ARGS("web-0") });
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const b = await lab.octopus("ADD", 1, anchorConf(lab, "10.0.2.0/24"), { cniArgs: ARGS("web-1") });
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.equal(a.json.ips[0].address, "10.0.2.20/24");
  assert.equal(a.json.ips[0].gateway, "10.0.2.1");
  assert.equal(b.json.ips[0].address, "10.0.2.21/24");
  assert.deepEqual(await allocations(`${lab.tmp}/store`), ["10.0.2.20", "10.0.2.21"]);

  const [link] = await ipJson(lab.pods[0], "-d", "link", "show", "eth0");
  assert.equal(link.linkinfo.info_kind, "macvlan");
  assert.equal(link.link_index, await lab.nodeIfindex("eth0.3"));
  const routes = await ipJson(lab.pods[0], "route", "show", "default");
  assert.equal(routes[0]?.gateway, "10.0.2.1");
  assert.ok(await reaches(lab.pods[0], "10.0.2.21", lab.pods[1]), "pod to pod over eth0.3");
  assert.ok(await reaches(lab.pods[1], "10.0.2.1", lab.lans[1].ns), "pod to gateway");

  const check = await lab.octopus("CHECK", 0, { ...anchorConf(lab, "10.0.2.0/24"), prevResult: a.json }, {
    cniArgs: ARGS("web-0"),
  });
  assert.equal(check.code, 0, check.stdout + check.stderr);

  for (const round of [1, 2]) {
    const d = await lab.octopus("DEL", 0, anchorConf(lab, "10.0.2.0/24"), { cniArgs: ARGS("web-0") });
    assert.equal(d.code, 0, `DEL #${round}: ${d.stdout}`);
  }
  assert.deepEqual(await allocations(`${lab.tmp}/store`), ["10.0.2.21"]);
  assert.deepEqual((await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname), ["lo"]);
});

Deno.test("octopus + anchor: a master that is down fails the ADD (103) and leaves no allocation", async () => {
  await using lab = await OctopusLab.create(1);
  await seedStore(`${lab.tmp}/store`);
  const { sh } = await import("./lib/netns.ts");
  await sh("ip", "-n", lab.node, "link", "set", "eth0.2", "down");
  const r = await lab.octopus("ADD", 0, anchorConf(lab, "10.0.1.0/24"), { cniArgs: ARGS("web-0") });
  assert.equal(r.json?.code, 103, r.stdout);
  assert.match(r.json.msg, /eth0\.2 .* is down/);
  assert.deepEqual(await allocations(`${lab.tmp}/store`), []);
  assert.deepEqual((await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname), ["lo"]);
});

Deno.test("octopus + anchor: a subnet this node does not serve is refused (103) with nothing allocated", async () => {
  await using lab = await OctopusLab.create(1);
  await seedStore(`${lab.tmp}/store`);
  const r = await lab.octopus("ADD", 0, {
    ...anchorConf(lab, "10.0.2.0/24"),
    octopus: { "10.0.1.0/24": "eth0.2" },
  }, {
    cniArgs: ARGS("web-0"),
  });
  assert.equal(r.json?.code, 103, r.stdout);
  assert.match(r.json.msg, /no master interface for subnet 10\.0\.2\.0\/24/);
  assert.deepEqual(await allocations(`${lab.tmp}/store`), []);
});

Deno.test("octopus in a chained conflist: prevResult flows to the next plugin, CHECK and DEL use the cached result", async () => {
  await using lab = await OctopusLab.create(1);
  await seedStore(`${lab.tmp}/store`);
  const list = {
    cniVersion: "1.0.0",
    name: "anchor",
    plugins: [
      {
        type: "octopus",
        octopus: OCTOPUS,
        args: { cni: { "cni.anchor.org/subnet": "10.0.1.0/24" } },
        ipam: { type: "anchor", store: `${lab.tmp}/store` },
      },
      { type: "tuning", sysctl: { "net.ipv4.conf.eth0.arp_notify": "1" } },
    ],
  };
  const rt = {
    containerId: "chain-1",
    netns: lab.podPath(0),
    ifname: "eth0",
    node: lab.node,
    cniArgs: ARGS("db-0"),
  };
  const result = await addNetworkList(list, rt);
  assert.equal(result.interfaces[0].name, "eth0");
  assert.equal(result.ips[0].address, "10.0.1.20/24");
  assert.equal(result.ips[0].interface, 0);
  const { nsExec } = await import("./lib/netns.ts");
  assert.equal(
    (await nsExec(lab.pods[0], "cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify")).trim(),
    "1",
    "tuning ran on octopus's interface",
  );
  await checkNetworkList(list, rt, result);
  await delNetworkList(list, rt, result);
  await delNetworkList(list, rt, result);
  assert.deepEqual(await allocations(`${lab.tmp}/store`), []);
  assert.deepEqual((await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname), ["lo"]);
});

Deno.test("octopus forwards GC to anchor: allocations of attachments that are gone are released", async () => {
  await using lab = await OctopusLab.create(2);
  await seedStore(`${lab.tmp}/store`);
  // Grace 0: the runtime knows both ADDs have ended, so their records are not too young to collect.
  const c = {
    ...anchorConf(lab, "10.0.1.0/24"),
    cniVersion: "1.1.0",
    ipam: { type: "anchor", store: `${lab.tmp}/store`, gc_grace_seconds: 0 },
  };
  assert.equal((await lab.octopus("ADD", 0, c, { cniArgs: ARGS("a-0"), containerId: "keep" })).code, 0);
  assert.equal((await lab.octopus("ADD", 1, c, { cniArgs: ARGS("b-0"), containerId: "stale" })).code, 0);
  assert.deepEqual(await allocations(`${lab.tmp}/store`), ["10.0.1.20", "10.0.1.21"]);
  const { runPlugin } = await import("./lib/plugin.ts");
  const gc = await runPlugin("octopus", {
    command: "GC",
    conf: { ...c, "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }] },
    node: lab.node,
  });
  assert.equal(gc.code, 0, gc.stdout + gc.stderr);
  assert.deepEqual(await allocations(`${lab.tmp}/store`), ["10.0.1.20"]);
});

Deno.test("octopus + anchor: a retried ADD fails EEXIST and its rollback leaves the live ADD's address; a second interface gets another", async () => {
  await using lab = await OctopusLab.create(1);
  await seedStore(`${lab.tmp}/store`);
  const conf = anchorConf(lab, "10.0.1.0/24");
  const c1 = { cniArgs: ARGS("web-0"), containerId: "c1", ifname: "eth0" };
  const first = await lab.octopus("ADD", 0, conf, c1);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.equal(first.json.ips[0].address, "10.0.1.20/24");

  const retry = await lab.octopus("ADD", 0, conf, c1);
  assert.equal(retry.json?.code, 101, retry.stdout + retry.stderr);
  assert.equal(retry.json.details, "EEXIST");
  assert.deepEqual(await allocations(`${lab.tmp}/store`), ["10.0.1.20"], "c1 still holds its address");

  const c2 = await lab.octopus("ADD", 0, conf, { cniArgs: ARGS("web-0"), containerId: "c2", ifname: "net1" });
  assert.equal(c2.code, 0, c2.stdout + c2.stderr);
  assert.equal(c2.json.ips[0].address, "10.0.1.21/24", "c2 gets an address of its own");
  assert.deepEqual(await allocations(`${lab.tmp}/store`), ["10.0.1.20", "10.0.1.21"]);
  const addrs = async (ifname: string) =>
    (await ipJson(lab.pods[0], "addr", "show", ifname))[0].addr_info
      .filter((a: any) => a.family === "inet").map((a: any) => `${a.local}/${a.prefixlen}`);
  assert.deepEqual(await addrs("eth0"), ["10.0.1.20/24"], "the first ADD's interface is untouched");
  assert.deepEqual(await addrs("net1"), ["10.0.1.21/24"]);
});

Deno.test("octopus + anchor: a failure after a fresh allocation releases it and removes the link (no leak)", async () => {
  await using lab = await OctopusLab.create(1);
  await seedStore(`${lab.tmp}/store`);
  // The pod's default route via a gateway outside its subnet cannot be added: the ADD fails after
  // the allocation and the macvlan were made, so both are undone.
  const conf = anchorConf(lab, "10.0.1.0/24", {
    args: {
      cni: { "cni.anchor.org/subnet": "10.0.1.0/24", "cni.anchor.org/routes": "10.9.0.0/16,10.7.7.7" },
    },
  });
  const r = await lab.octopus("ADD", 0, conf, { cniArgs: ARGS("web-0") });
  assert.equal(r.json?.code, 101, r.stdout + r.stderr);
  assert.deepEqual(await allocations(`${lab.tmp}/store`), [], "the fresh allocation is released");
  assert.deepEqual((await ipJson(lab.pods[0], "link", "show")).map((l: any) => l.ifname), ["lo"]);
});
