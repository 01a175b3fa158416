/**
 * The Kubernetes path end to end: crictl (in place of kubelet) asks a private containerd over CRI to
 * run pod sandboxes, and containerd's CRI plugin runs our plugins through go-cni/libcni, inside a node
 * namespace (tests/lib/cri.ts). Ignored, the reason in the test's name, where ../shared/cri is missing;
 * with CI=true a missing containerd or crictl fails instead.
 */
import assert from "node:assert/strict";
import { openStore, type Store } from "../mod/store/mod.ts";
import { CriRuntime, criSupport, inNetns, pings } from "./lib/cri.ts";
import { sh, TempNetns } from "./lib/netns.ts";
import { OctopusLab } from "./lib/octopus_lab.ts";
import { binDir } from "./lib/plugin.ts";
import { eventually, waiterPids } from "./lib/ratchet_lab.ts";

const support = criSupport();
const ignore = support.ignore;

const NS = "cri-e2e";
const CAPABILITY = "io.kubernetes.cri.pod-annotations";

/** Host places a careless containerd or plugin would write to; none may change. */
const HOST_PATHS = ["/etc/cni", "/opt/cni", "/etc/containerd", "/opt/containerd", "/var/lib/containerd"];
/** Interfaces the configs below make: in the node's namespace, never in the host's. */
const OUR_LINKS = ["cni0", "cni-boot0", "cni-dlg0", "eth0.2", "eth0.3"];

/**
 * A CRI test that also checks the host: no file under HOST_PATHS newer than the test's start, and none
 * of the configs' interfaces in the host's namespace.
 */
function criTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({
    // As every ignored test here: its name says why.
    name: ignore ? `${name} (ignored: ${support.reason})` : name,
    ignore,
    async fn(t) {
      const stamp = await Deno.makeTempFile({ prefix: "rt-cri-stamp-" });
      try {
        await fn(t);
        const present = HOST_PATHS.filter((p) => {
          try {
            return Deno.statSync(p) && true;
          } catch {
            return false;
          }
        });
        const changed = present.length ? await sh("find", ...present, "-newer", stamp) : "";
        assert.equal(changed.trim(), "", "files changed on the host");
        const hostLinks = (JSON.parse(await sh("ip", "-j", "link", "show")) as { ifname: string }[])
          .map((l) => l.ifname);
        assert.deepEqual(hostLinks.filter((n) => OUR_LINKS.includes(n)), [], "interfaces made on the host");
      } finally {
        await Deno.remove(stamp);
      }
    },
  });
}

/** The interface named `ifname` in a pod's namespace, as `ip -j -d link show` reports it. */
async function podLink(netns: string, ifname: string): Promise<any> {
  const out = await inNetns(netns, "ip", "-j", "-d", "link", "show", "dev", ifname).catch(() => "[]");
  return JSON.parse(out || "[]")[0];
}

/** The global addresses (addr/prefix) of one interface in a pod's namespace. */
async function podAddrs(netns: string, ifname: string): Promise<string[]> {
  const out = await inNetns(netns, "ip", "-j", "addr", "show", "dev", ifname).catch(() => "[]");
  const [entry] = JSON.parse(out || "[]");
  return (entry?.addr_info ?? []).filter((a: { scope: string }) => a.scope === "global")
    .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`);
}

async function withStore<T>(dir: string, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ kind: "file", dir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Every key under `prefix`, as key → value. */
async function keys(dir: string, prefix: string): Promise<Record<string, string>> {
  return await withStore(
    dir,
    async (s) => Object.fromEntries((await s.list(prefix)).map((kv) => [kv.key, kv.value])),
  );
}

/** stopp, then rmp, of each pod; the pods in parallel, as kubelet tears several down. */
async function removePods(cri: CriRuntime, pods: { id: string }[]): Promise<void> {
  await Promise.all(pods.map(async (p) => {
    await cri.stopp(p.id);
    await cri.rmp(p.id);
  }));
}

/**
 * Two pods on one octopus + anchor network: addresses from the namespace's pool, macvlans on the master
 * of `lan`, a ping between them and to the LAN's gateway; stopp + rmp (two DELs, the second without a
 * netns) leave no allocation.
 */
async function octopusPods(
  lab: OctopusLab,
  storeDir: string,
  conflist: Record<string, unknown>,
  lan: number,
  annotations: Record<string, string> = {},
): Promise<void> {
  const { subnet, gateway, master } = lab.lans[lan];
  const base = subnet.split(".").slice(0, 3).join(".");
  await withStore(storeDir, async (s) => {
    await s.put(`/anchor/ns/${NS}`, `${base}.[10-19]`);
    await s.put(`/anchor/gw/${subnet}`, gateway);
  });
  await using cri = await CriRuntime.start({ node: lab.node, conflist });
  // Both at once, as kubelet starts pods: the two ADDs race for the pool (the loser of a race picks from
  // a window further on, mod/ipam/allocate.ts), so any two distinct pool addresses are right.
  const [a, b] = await Promise.all(
    ["pod-a", "pod-b"].map((name) => cri.runp({ name, namespace: NS, annotations })),
  );
  const pool = Array.from({ length: 10 }, (_, i) => `${base}.${10 + i}`);
  assert.ok(
    pool.includes(a.ip) && pool.includes(b.ip) && a.ip !== b.ip,
    `${a.ip}, ${b.ip} from ${base}.[10-19]`,
  );
  const link = await podLink(a.netns, "eth0");
  assert.equal(link.linkinfo.info_kind, "macvlan");
  assert.equal(link.link_index, await lab.nodeIfindex(master), `the master is ${master} in the node`);
  assert.ok(await pings(a.netns, b.ip), "pod-a reaches pod-b");
  assert.ok(await pings(b.netns, gateway), "pod-b reaches the LAN's gateway over the master");
  const held = await keys(storeDir, "/anchor/cn/");
  assert.deepEqual(Object.keys(held).sort(), [a.id, b.id].map((id) => `/anchor/cn/${id}`).sort());
  assert.equal(held[`/anchor/cn/${a.id}`].split(",").slice(0, 3).join(","), `${a.ip},pod-a,${NS}`);
  await removePods(cri, [a, b]);
  assert.deepEqual(await cri.pods(), []);
  assert.deepEqual(await keys(storeDir, "/anchor/cn/"), {}, "no allocation left");
  assert.deepEqual(await keys(storeDir, "/anchor/ip/"), {}, "no address guard left");
}

criTest("CRI: octopus + anchor on the embedded store, the subnet from the config's args", async () => {
  await using lab = await OctopusLab.create(0);
  const storeDir = `${lab.tmp}/store`;
  await octopusPods(lab, storeDir, {
    cniVersion: "1.0.0",
    name: "anchor",
    plugins: [{
      type: "octopus",
      octopus: { [lab.lans[0].subnet]: lab.lans[0].master, [lab.lans[1].subnet]: lab.lans[1].master },
      mode: "bridge",
      args: { cni: { "cni.anchor.org/subnet": lab.lans[0].subnet } },
      log_file: `${lab.tmp}/anchor.log`,
      ipam: { type: "anchor", store: storeDir },
    }],
  }, 0);
});

criTest(
  "CRI: conf/10-anchor.conflist with the subnet only from pod annotations (capability, no API server)",
  async () => {
    await using lab = await OctopusLab.create(0);
    const storeDir = `${lab.tmp}/store`;
    const conflist = JSON.parse(
      await Deno.readTextFile(new URL("../conf/10-anchor.conflist", import.meta.url)),
    );
    const octopus = conflist.plugins[0];
    assert.equal(octopus.capabilities?.[CAPABILITY], true, "the sample declares the capability");
    // Only values change: this lab's store and log; no Kubernetes API at all.
    delete octopus.kubernetes;
    delete octopus.ipam.kubernetes;
    Object.assign(octopus, { log_file: `${lab.tmp}/anchor.log` });
    Object.assign(octopus.ipam, { store: storeDir });
    // The second LAN: the annotation, not the first entry, picks the master.
    await octopusPods(lab, storeDir, conflist, 1, { "cni.anchor.org/subnet": lab.lans[1].subnet });
  },
);

/**
 * A conflist of ratchet alone as the CRI tests run it: its store (`<tmp>/store`) and log
 * (`<tmp>/ratchet.log`) in `tmp`, `node` as kubernetes.node_name, pod annotations from the runtime
 * (the capability), and `fields` (boot_network, delegate, ...) on top.
 */
function ratchetConflist(name: string, tmp: string, node: string, fields: Record<string, unknown>) {
  return {
    cniVersion: "1.0.0",
    name,
    plugins: [{
      type: "ratchet",
      capabilities: { [CAPABILITY]: true },
      store: `${tmp}/store`,
      kubernetes: { node_name: node },
      child_timeout_s: 30,
      // The node's waiter exits this long after its last work, so the test can see it gone.
      waiter_idle_s: 2,
      log_file: `${tmp}/ratchet.log`,
      ...fields,
    }],
  };
}

/** `ratchet ARGS` through the launcher, as an operator runs it; throws with its output on failure. */
async function ratchetCli(...args: string[]): Promise<string> {
  return await sh(`${binDir()}/ratchet`, ...args);
}

criTest(
  "CRI: ratchet links pods over a boot network that makes eth0, by topology and by pod annotations",
  async (t) => {
    await using nodes = await TempNetns.create(["node"]);
    const tmp = await Deno.makeTempDir({ prefix: "rt-cri-ratchet-" });
    const node = `node-${nodes.name(0).slice(-8)}`;
    const storeDir = `${tmp}/store`;
    try {
      const conflist = ratchetConflist("ratchet-cri", tmp, node, {
        log_level: "debug",
        // Debian's bridge makes eth0 with an address, which containerd demands of the result.
        boot_network: {
          type: "bridge",
          bridge: "cni-boot0",
          isGateway: true,
          ipam: { type: "host-local", subnet: "10.97.0.0/24", dataDir: `${tmp}/host-local` },
        },
        delegate: {
          type: "bridge",
          bridge: "cni-dlg0",
          isGateway: true,
          ipam: { type: "host-local", subnet: "10.98.0.0/24", dataDir: `${tmp}/host-local` },
        },
      });
      await using cri = await CriRuntime.start({ node: nodes.name(0), conflist });
      const log = () => Deno.readTextFileSync(`${tmp}/ratchet.log`).split("\n").slice(-30).join("\n");

      /** Two linked pods: eth0 from the boot bridge, eth1 a veth with its address; they ping over it. */
      const linkedPair = async (names: [string, string], annotations: [object, object] = [{}, {}]) => {
        // Both ends at once: whichever ADD comes second finds the other's registration, or a child does.
        const pods = await Promise.all(
          names.map((name, i) =>
            cri.runp({ name, namespace: NS, annotations: annotations[i] as Record<string, string> })
          ),
        );
        const [a, b] = pods;
        for (const [p, ip] of [[a, "10.10.0.1/24"], [b, "10.10.0.2/24"]] as const) {
          assert.match(p.ip, /^10\.97\.0\./, `${p.name}: the boot network's address is the pod IP`);
          assert.ok(await eventually(async () => (await podAddrs(p.netns, "eth1")).includes(ip)), log());
          assert.equal((await podLink(p.netns, "eth1")).linkinfo.info_kind, "veth");
        }
        assert.ok(await eventually(() => pings(a.netns, "10.10.0.2"), 5000), "pod to pod over the link");
        return pods;
      };

      /** stopp + rmp; then no record of these pods is left but apply's, and no ratchet-child runs. */
      const remove = async (pods: { id: string }[]) => {
        await removePods(cri, pods);
        // The node's waiter (if one was needed) leaves once idle, and takes its lease with it.
        assert.ok(await eventually(() => waiterPids([node]).length === 0, 10_000), "the waiter still runs");
        const left = Object.keys(await keys(storeDir, "/ratchet/"))
          .filter((k) => !/^\/ratchet\/(pods|nodes|links|topology)\//.test(k));
        assert.deepEqual(left, [], "records left behind");
      };

      await t.step("an applied topology; a pod outside it gets the delegate", async () => {
        const file = `${tmp}/lab.topo`;
        await Deno.writeTextFile(
          file,
          [
            `node ${node} parent eth0 address 192.168.1.224`,
            `pod pod-a node ${node} namespace ${NS}`,
            `pod pod-b node ${node} namespace ${NS}`,
            `link pod-a:eth1 10.10.0.1/24 -- pod-b:eth1 10.10.0.2/24`,
          ].join("\n") + "\n",
        );
        await ratchetCli("apply", file, "--store", storeDir);
        const [pair, c] = await Promise.all([
          linkedPair(["pod-a", "pod-b"]),
          cri.runp({ name: "pod-c", namespace: NS }),
        ]);
        assert.match(c.ip, /^10\.98\.0\./, "the delegate's address");
        assert.equal(await podLink(c.netns, "eth1"), undefined);
        await remove([...pair, c]);
      });

      await t.step(
        "eligibility and links from pod annotations (the ratchet keys as annotations)",
        async () => {
          const end = (self: string, peer: string, ip: string, peerIp: string, primary: boolean) => ({
            "ratchet": "true",
            "ratchet.local_ifname": "eth1",
            "ratchet.local_ip": ip,
            "ratchet.pair_name": peer,
            "ratchet.pair_ifname": "eth1",
            "ratchet.pair_ip": peerIp,
            "ratchet.primary": String(primary),
            "app": self,
          });
          const [pair, c] = await Promise.all([
            linkedPair(["ann-a", "ann-b"], [
              end("ann-a", "ann-b", "10.10.0.1", "10.10.0.2", true),
              end("ann-b", "ann-a", "10.10.0.2", "10.10.0.1", false),
            ]),
            cri.runp({ name: "ann-c", namespace: NS, annotations: { app: "plain" } }),
          ]);
          assert.match(c.ip, /^10\.98\.0\./, "no ratchet annotation: the delegate");
          await remove([...pair, c]);
        },
      );
    } finally {
      for (const pid of waiterPids([node])) Deno.kill(pid, "SIGKILL");
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

criTest(
  "CRI: a loopback boot network cannot start an eligible pod; ratchet's log says why, nothing is left",
  async () => {
    await using nodes = await TempNetns.create(["node"]);
    const tmp = await Deno.makeTempDir({ prefix: "rt-cri-ratchet-" });
    try {
      const conflist = ratchetConflist("ratchet-lo", tmp, "node-lo", {
        // The original sample's boot network: fine for libcni and podman, not for a CRI runtime.
        boot_network: { type: "loopback" },
        delegate: { type: "loopback" },
      });
      await using cri = await CriRuntime.start({ node: nodes.name(0), conflist });
      await assert.rejects(
        cri.runp({
          name: "lo-a",
          namespace: NS,
          annotations: {
            "ratchet": "true",
            "ratchet.local_ifname": "eth1",
            "ratchet.local_ip": "10.10.0.1",
            "ratchet.pair_name": "lo-b",
            "ratchet.pair_ifname": "eth1",
            "ratchet.primary": "true",
          },
        }),
        /failed to find network info for sandbox/,
      );
      const log = await Deno.readTextFile(`${tmp}/ratchet.log`);
      assert.match(log, /no interface eth0 \(CNI_IFNAME\) with an address in the pod.*boot_network/);
      // containerd undid the pod with DEL: no sandbox, no waiter, no record.
      assert.deepEqual(await cri.pods(), []);
      assert.ok(
        await eventually(() => waiterPids(["node-lo"]).length === 0, 10_000),
        "the waiter still runs",
      );
      const left = Object.keys(await keys(`${tmp}/store`, "/ratchet/"));
      assert.deepEqual(left, [], "records left behind");
    } finally {
      for (const pid of waiterPids(["node-lo"])) Deno.kill(pid, "SIGKILL");
      await Deno.remove(tmp, { recursive: true });
    }
  },
);
