/**
 * `anchor install` / `uninstall`, run as a process INSIDE a simulated node namespace with temp
 * directories: shims made and undone in the kernel, the config written, binaries placed, and pods
 * reached from the node through the shim.
 */
import assert from "node:assert/strict";
import { ClusterNetworkError, parseClusterNetwork, renderConflist } from "../mod/install/mod.ts";
import { ROLE_NAMES } from "../mod/role.ts";
import { openStore } from "../mod/store/mod.ts";
import { ipJson, run, type RunResult, sh } from "./lib/netns.ts";
import { OctopusLab, reaches } from "./lib/octopus_lab.ts";
import { runPlugin } from "./lib/plugin.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CLUSTER =
  "nodeA,eth0.2,10.0.1.8,10.0.1.1,24; nodeA,eth0.3,10.0.2.8,10.0.2.1,24; nodeB,eth0.2,10.0.1.9,10.0.1.1,24";

/** `anchor VERB ARGS...` run by the program inside `node`, as install runs there; never throws. */
function anchorCmd(node: string, verb: string, ...args: string[]): Promise<RunResult> {
  const program = [Deno.execPath(), "run", "-A", "--quiet", MAIN];
  return run("ip", "netns", "exec", node, ...program, "anchor", verb, ...args);
}

/** The node as a LAN host: its masters carry its own addresses and the default route. */
async function addressNode(lab: OctopusLab): Promise<void> {
  await sh("ip", "-n", lab.node, "addr", "add", "10.0.1.8/24", "dev", "eth0.2");
  await sh("ip", "-n", lab.node, "addr", "add", "10.0.2.8/24", "dev", "eth0.3");
  await sh("ip", "-n", lab.node, "route", "add", "default", "via", "10.0.1.1", "dev", "eth0.2");
}

function dirs(lab: OctopusLab) {
  const d = {
    bin: `${lab.tmp}/bin`,
    conf: `${lab.tmp}/net.d`,
    state: `${lab.tmp}/state/install.json`,
    store: `${lab.tmp}/store`,
  };
  const flags = ["--bin-dir", d.bin, "--conf-dir", d.conf, "--state-file", d.state, "--node-name", "nodeA"];
  return { ...d, flags };
}

/** Installs with shims from CLUSTER, as the DaemonSet would on node A, and checks it succeeded. */
async function installShims(lab: OctopusLab, d: ReturnType<typeof dirs>) {
  const r = await anchorCmd(
    lab.node,
    "install",
    ...d.flags,
    "--cluster-network",
    CLUSTER,
    "--create-macvlan",
    "--store",
    d.store,
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r;
}

async function addrs(ns: string, dev: string): Promise<string[]> {
  const [link] = await ipJson(ns, "addr", "show", "dev", dev);
  return link.addr_info.filter((a: any) => a.family === "inet").map((a: any) => `${a.local}/${a.prefixlen}`);
}

async function defaultRoutes(ns: string): Promise<string[]> {
  return (await ipJson(ns, "route", "show", "default")).map((r: any) => `${r.gateway} ${r.dev}`);
}

Deno.test("install in a node namespace: shims take the masters' addresses, config and binaries written; uninstall restores", async () => {
  await using lab = await OctopusLab.create(1);
  await addressNode(lab);
  // The gateway has talked to the node, so it holds the master's MAC for 10.0.1.8.
  await sh("ip", "netns", "exec", lab.node, "ping", "-c1", "-W2", "10.0.1.1");
  const lan2 = lab.lans[0].ns;
  const gatewayEntry = async () =>
    (await ipJson(lan2, "neigh", "show", "dev", "sw")).find((n: any) => n.dst === "10.0.1.8")?.lladdr;
  const [master] = await ipJson(lab.node, "link", "show", "eth0.2");
  assert.equal(await gatewayEntry(), master.address);
  const d = dirs(lab);
  const inst = await installShims(lab, d);
  assert.match(inst.stdout, /created acr00 on eth0\.2 with 10\.0\.1\.8\/24/);

  const links = await ipJson(lab.node, "-d", "link", "show");
  const byName = new Map(links.map((l: any) => [l.ifname, l]));
  const acr00: any = byName.get("acr00"), acr01: any = byName.get("acr01");
  assert.equal(acr00?.linkinfo?.info_kind, "macvlan");
  assert.equal(acr00.linkinfo.info_data.mode, "bridge");
  assert.equal(acr00.link, "eth0.2");
  assert.equal(acr01?.link, "eth0.3");
  assert.ok((byName.get("eth0.2") as any).flags.includes("PROMISC"), "master in promiscuous mode");
  // Ours, plus the macvlan's own: a veth has no unicast filter, so each macvlan child counts one too.
  assert.equal((byName.get("eth0.2") as any).promiscuity, 2);
  // install's gratuitous ARPs from the shim, and nothing else from the node, moved the gateway's entry.
  assert.equal(await gatewayEntry(), acr00.address, "the gateway learnt the shim's MAC");
  assert.equal(byName.has("acr02"), false, "nodeB's item is not ours");
  assert.deepEqual(await addrs(lab.node, "eth0.2"), []);
  assert.deepEqual(await addrs(lab.node, "acr00"), ["10.0.1.8/24"]);
  assert.deepEqual(await addrs(lab.node, "acr01"), ["10.0.2.8/24"]);
  assert.deepEqual(await defaultRoutes(lab.node), ["10.0.1.1 acr00"]);
  assert.ok((await ipJson(lab.node, "route", "show", "10.0.2.0/24")).some((r: any) => r.dev === "acr01"));

  const conf = JSON.parse(Deno.readTextFileSync(`${d.conf}/10-anchor.conflist`));
  assert.match(conf.generatedBy, /^anchor install /);
  assert.equal(conf.plugins[0].type, "octopus");
  assert.deepEqual(conf.plugins[0].octopus, { "10.0.1.0/24": "eth0.2", "10.0.2.0/24": "eth0.3" });
  assert.deepEqual(conf.plugins[0].ipam, {
    type: "anchor",
    store: d.store,
    node_ips: ["10.0.1.8", "10.0.2.8"],
  });
  for (const name of ROLE_NAMES) {
    assert.ok(Deno.statSync(`${d.bin}/${name}`).isFile, name);
  }
  assert.equal(Deno.readLinkSync(`${d.bin}/octopus`), "ratchet");

  // Idempotent: a second run adopts what is there.
  const again = await installShims(lab, d);
  assert.match(again.stdout, /kept acr00/);
  assert.deepEqual(await addrs(lab.node, "acr00"), ["10.0.1.8/24"]);
  assert.deepEqual(await defaultRoutes(lab.node), ["10.0.1.1 acr00"]);
  assert.equal(
    (await ipJson(lab.node, "link", "show")).filter((l: any) => l.ifname.startsWith("acr")).length,
    2,
  );

  const un = await anchorCmd(lab.node, "uninstall", ...d.flags);
  assert.equal(un.code, 0, un.stdout + un.stderr);
  const after = (await ipJson(lab.node, "-d", "link", "show")).map((l: any) => l.ifname).sort();
  assert.deepEqual(after, ["eth0.2", "eth0.3", "lo"]);
  assert.deepEqual(await addrs(lab.node, "eth0.2"), ["10.0.1.8/24"]);
  assert.deepEqual(await addrs(lab.node, "eth0.3"), ["10.0.2.8/24"]);
  assert.deepEqual(await defaultRoutes(lab.node), ["10.0.1.1 eth0.2"]);
  const [m] = await ipJson(lab.node, "-d", "link", "show", "eth0.2");
  assert.ok(!m.flags.includes("PROMISC"), "promiscuous mode restored");
  assert.equal(m.promiscuity, 0);
  assert.throws(() => Deno.statSync(`${d.conf}/10-anchor.conflist`), Deno.errors.NotFound);
  assert.throws(() => Deno.statSync(d.state), Deno.errors.NotFound);
  const twice = await anchorCmd(lab.node, "uninstall", ...d.flags);
  assert.equal(twice.code, 0, twice.stderr);
});

Deno.test("the node reaches an octopus pod through the shim, using the installed config and binaries", async () => {
  await using lab = await OctopusLab.create(1);
  await addressNode(lab);
  const d = dirs(lab);
  await installShims(lab, d);
  const store = await openStore({ kind: "file", dir: d.store });
  try {
    await store.put("/anchor/ns/default", "10.0.1.[30-39]");
    await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
  } finally {
    await store.close();
  }
  const list = JSON.parse(Deno.readTextFileSync(`${d.conf}/10-anchor.conflist`));
  const conf = {
    cniVersion: list.cniVersion,
    name: list.name,
    ...list.plugins[0],
    args: { cni: { "cni.anchor.org/subnet": "10.0.1.0/24" } },
  };
  const add = await runPlugin(`${d.bin}/octopus`, {
    command: "ADD",
    containerId: "shim-pod",
    netns: lab.podPath(0),
    ifname: "eth0",
    cniArgs: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0",
    conf,
    node: lab.node,
    path: d.bin,
  });
  assert.equal(add.code, 0, add.stdout + add.stderr);
  assert.equal(add.json.ips[0].address, "10.0.1.30/24");
  assert.ok(await reaches(lab.node, "10.0.1.30", lab.pods[0]), "node -> pod through acr00");
  assert.ok(await reaches(lab.pods[0], "10.0.1.8", lab.node), "pod -> node's address on acr00");
  assert.ok(await reaches(lab.node, "10.0.1.1", lab.lans[0].ns), "node -> gateway still works");
  // Without the shim the node could not reach its own macvlan child: prove the shim is what helps.
  const un = await anchorCmd(lab.node, "uninstall", ...d.flags);
  assert.equal(un.code, 0, un.stderr);
  assert.equal(
    await reaches(lab.node, "10.0.1.30", lab.pods[0]),
    false,
    "node -> pod fails without the shim",
  );
});

Deno.test("install never clobbers a foreign config without --force, and refuses a bad CLUSTER_NETWORK", async () => {
  await using lab = await OctopusLab.create(0);
  const d = dirs(lab);
  Deno.mkdirSync(d.conf, { recursive: true });
  const foreign = `{"cniVersion":"0.4.0","name":"other","plugins":[{"type":"bridge"}]}\n`;
  Deno.writeTextFileSync(`${d.conf}/10-anchor.conflist`, foreign);
  const noShims = [...d.flags, "--cluster-network", CLUSTER, "--skip-binaries"];
  const refused = await anchorCmd(lab.node, "install", ...noShims);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /was not written by anchor install; pass --force/);
  assert.equal(Deno.readTextFileSync(`${d.conf}/10-anchor.conflist`), foreign);

  const forced = await anchorCmd(lab.node, "install", ...noShims, "--force");
  assert.equal(forced.code, 0, forced.stderr);
  const conf = JSON.parse(Deno.readTextFileSync(`${d.conf}/10-anchor.conflist`));
  assert.deepEqual(conf.plugins[0].octopus, { "10.0.1.0/24": "eth0.2", "10.0.2.0/24": "eth0.3" });
  assert.equal(conf.plugins[0].ipam.store, undefined);
  // Without --create-macvlan nothing changes in the kernel.
  assert.deepEqual((await ipJson(lab.node, "link", "show")).map((l: any) => l.ifname).sort(), [
    "eth0.2",
    "eth0.3",
    "lo",
  ]);
  assert.deepEqual(
    [...Deno.readDirSync(d.conf)].map((e) => e.name),
    ["10-anchor.conflist"],
    "no temp files left",
  );

  const bad = await anchorCmd(
    lab.node,
    "install",
    ...d.flags,
    "--cluster-network",
    "nodeA,eth0.2,10.0.1.8,10.0.9.1,24",
    "--skip-binaries",
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /item 1 .*gateway 10\.0\.9\.1 is outside 10\.0\.1\.0\/24/);

  const none = await anchorCmd(
    lab.node,
    "install",
    ...d.flags,
    "--cluster-network",
    "nodeB,eth0.2,10.0.1.9,10.0.1.1,24",
    "--skip-binaries",
  );
  assert.equal(none.code, 1);
  assert.match(none.stderr, /for node nodeA: octopus would have no master/);
});

Deno.test("install --topology takes the node's masters from a topology file", async () => {
  await using lab = await OctopusLab.create(0);
  const d = dirs(lab);
  const topo = `${lab.tmp}/lab.topo`;
  Deno.writeTextFileSync(
    topo,
    ["node node-a parent eth0", "master node-a eth0.3 10.0.2.8/24 gateway 10.0.2.1", ""].join("\n"),
  );
  const r = await anchorCmd(
    lab.node,
    "install",
    ...d.flags,
    "--node-name",
    "node-a",
    "--topology",
    topo,
    "--skip-binaries",
    "--dry-run",
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const conf = JSON.parse(r.stdout);
  assert.deepEqual(conf.plugins[0].octopus, { "10.0.2.0/24": "eth0.3" });
  assert.deepEqual(conf.plugins[0].ipam.node_ips, ["10.0.2.8"]);
  assert.throws(
    () => Deno.statSync(`${d.conf}/10-anchor.conflist`),
    Deno.errors.NotFound,
    "--dry-run writes nothing",
  );
});

Deno.test("CLUSTER_NETWORK parsing and the rendered octopus map", () => {
  const items = parseClusterNetwork(
    " node01,eth0.2,10.0.2.8,10.0.2.1,24;node02,eth0.2,10.0.2.9,10.0.2.1,24; ",
  );
  assert.deepEqual(items[0], {
    node: "node01",
    master: "eth0.2",
    ip: "10.0.2.8",
    gateway: "10.0.2.1",
    prefix: 24,
    subnet: "10.0.2.0/24",
  });
  assert.equal(items.length, 2);
  assert.throws(
    () => parseClusterNetwork("n,eth0,10.0.0.1,10.0.0.254;n,eth0,10.0.0.300,10.0.0.1,24"),
    (e: unknown) => {
      assert.ok(e instanceof ClusterNetworkError);
      assert.deepEqual(e.problems.map((p) => p.item), [1, 2]);
      return true;
    },
  );
  const conf = renderConflist({
    mode: "macvlan",
    octopus: { "10.0.2.0/24": "eth0.2" },
    items,
    etcdEndpoints: "http://127.0.0.1:2379",
  });
  assert.deepEqual((conf.plugins as any[])[0].master, "eth0.2");
  assert.equal((conf.plugins as any[])[0].ipam.etcd_endpoints, "http://127.0.0.1:2379");
  // Pod annotations from containerd / CRI-O in runtimeConfig, in both modes (macvlan hands its stdin to anchor).
  for (const mode of ["octopus", "macvlan"] as const) {
    const c = renderConflist({
      mode,
      octopus: { "10.0.2.0/24": "eth0.2" },
      items,
      store: "/var/lib/cni/anchor",
    });
    assert.deepEqual(
      (c.plugins as any[])[0].capabilities,
      { "io.kubernetes.cri.pod-annotations": true },
      mode,
    );
  }
});
