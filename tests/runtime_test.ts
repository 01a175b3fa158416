/**
 * The calls real libcni runtimes make (containerd, CRI-O, podman): VERSION probes before ADD,
 * CNI_ARGS with IgnoreUnknown and the Kubernetes keys, a netns given as /proc/PID/ns/net, a
 * conflist chaining Debian's plugins with ours, CHECK with the cached result, DEL twice, and DEL
 * after the pod's namespace is gone.
 */
import assert from "node:assert/strict";
import { addNetworkList, checkNetworkList, type Conflist, delNetworkList } from "./lib/libcni.ts";
import { sh, withTempNetns } from "./lib/netns.ts";
import { withStore } from "../mod/store/mod.ts";

/** The keys of the embedded store in `dir`, read through mod/store. */
function storedKeys(dir: string): Promise<string[]> {
  return withStore({ kind: "file", dir }, async (store) => (await store.list("/")).map((kv) => kv.key));
}

const CNI_ARGS =
  "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee";

/** A "pod": a process with a network namespace of its own, started inside the node. */
async function startPod(node: string): Promise<{ pid: number; netns: string; stop(): Promise<void> }> {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", node, "unshare", "--net", "sleep", "300"],
    stdin: "null",
  }).spawn();
  // unshare execs sleep in the same process, so the pid is the pod's; wait until it left the node's namespace.
  const nodeNs = (await sh("ip", "netns", "exec", node, "readlink", "/proc/self/ns/net")).trim();
  for (let i = 0; i < 100; i++) {
    const ns = await Deno.readLink(`/proc/${child.pid}/ns/net`).catch(() => nodeNs);
    if (ns !== nodeNs && (await Deno.readTextFile(`/proc/${child.pid}/comm`)).trim() === "sleep") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    pid: child.pid,
    netns: `/proc/${child.pid}/ns/net`,
    stop: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

async function podJson(pid: number, ...args: string[]): Promise<any> {
  return JSON.parse(await sh("nsenter", `--net=/proc/${pid}/ns/net`, "ip", "-j", ...args));
}

Deno.test("a libcni-style runtime: Debian's macvlan with anchor IPAM, chained with tuning, on a /proc/PID/ns/net pod", async () => {
  const store = Deno.makeTempDirSync({ prefix: "rt-runtime-store-" });
  await withTempNetns(["rnode", "rlan"], async ([node, lan]) => {
    await sh("ip", "-n", lan, "link", "add", "m0", "type", "veth", "peer", "name", "eth0.2", "netns", node);
    await sh("ip", "-n", node, "link", "set", "eth0.2", "up");
    await sh("ip", "-n", lan, "addr", "add", "10.0.2.1/24", "dev", "m0");
    await sh("ip", "-n", lan, "link", "set", "m0", "up");
    const list: Conflist = {
      cniVersion: "1.0.0",
      name: "lan2",
      plugins: [
        {
          type: "macvlan",
          master: "eth0.2",
          mode: "bridge",
          args: { cni: { "cni.anchor.org/subnet": "10.0.2.0/24" } },
          ipam: { type: "anchor", store },
        },
        { type: "tuning", sysctl: { "net.ipv4.conf.eth0.arp_notify": "1" } },
      ],
    };
    await seedAnchor(store);

    const pod = await startPod(node);
    try {
      const rt = { containerId: "c0ffee", netns: pod.netns, ifname: "eth0", cniArgs: CNI_ARGS, node };
      const result = await addNetworkList(list, rt);
      assert.equal(result.cniVersion, "1.0.0");
      assert.equal(result.ips[0].address, "10.0.2.20/24");
      assert.equal(result.ips[0].gateway, "10.0.2.1");
      const eth0 = (await podJson(pod.pid, "addr", "show", "eth0"))[0];
      assert.equal(eth0.linkinfo?.info_kind ?? "macvlan", "macvlan");
      assert.ok(eth0.addr_info.some((a: any) => a.local === "10.0.2.20"), "the pod has anchor's address");
      const tuned = await podSysctl(pod.netns, "net/ipv4/conf/eth0/arp_notify");
      assert.equal(tuned.trim(), "1", "tuning ran on our result");
      const routes = await podJson(pod.pid, "route", "show", "default");
      assert.equal(routes[0]?.gateway, "10.0.2.1");
      await sh("nsenter", `--net=${pod.netns}`, "ping", "-c1", "-W2", "10.0.2.1");

      await checkNetworkList(list, rt, result);
      await delNetworkList(list, rt, result);
      await delNetworkList(list, rt, result); // runtimes repeat DEL; it must still succeed
      const after = await podJson(pod.pid, "link", "show");
      assert.ok(!after.some((l: any) => l.ifname === "eth0"), "DEL removed the macvlan");
      const records = await storedKeys(store);
      assert.ok(!records.some((k) => k.startsWith("/anchor/cn/")), "DEL released the address");

      // ADD again, then the pod dies before DEL: DEL must still succeed and release the address.
      await addNetworkList(list, rt);
      await pod.stop();
      await delNetworkList(list, { ...rt }, result);
      const left = await storedKeys(store);
      assert.ok(!left.some((k) => k.startsWith("/anchor/cn/") || k.startsWith("/anchor/ip/")));
    } finally {
      await pod.stop();
    }
  }).finally(() => Deno.removeSync(store, { recursive: true }));
});

Deno.test("a libcni-style runtime: ratchet sends an ineligible pod to Debian's bridge, and DEL twice after the pod died", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "rt-runtime-ratchet-" });
  await withTempNetns(["rnode"], async ([node]) => {
    const list: Conflist = {
      cniVersion: "0.4.0",
      name: "pods",
      plugins: [{
        type: "ratchet",
        store: `${dir}/store`,
        kubernetes: { node_name: "node01" },
        parent_interface: "lo",
        parent_address: "127.0.0.1",
        boot_network: { type: "loopback" },
        delegate: {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipam: { type: "host-local", subnet: "10.88.0.0/24", dataDir: `${dir}/hl` },
        },
      }],
    };
    const pod = await startPod(node);
    try {
      const rt = { containerId: "feedbeef", netns: pod.netns, ifname: "eth0", cniArgs: CNI_ARGS, node };
      const result = await addNetworkList(list, rt);
      assert.equal(result.cniVersion, "0.4.0");
      assert.equal(result.ips[0].version, "4", "the delegate's result comes back in the config's version");
      assert.match(result.ips[0].address, /^10\.88\.0\.\d+\/24$/);
      const eth0 = (await podJson(pod.pid, "addr", "show", "eth0"))[0];
      assert.ok(eth0.addr_info.some((a: any) => `${a.local}/${a.prefixlen}` === result.ips[0].address));
      await checkNetworkList(list, rt, result);
      await pod.stop();
      await delNetworkList(list, rt, result);
      await delNetworkList(list, rt, result);
      const leases = [...Deno.readDirSync(`${dir}/hl/pods`)].map((e) => e.name).filter((n) => /^\d/.test(n));
      assert.deepEqual(leases, [], "the delegate's DEL released host-local's lease");
    } finally {
      await pod.stop();
    }
  }).finally(() => Deno.removeSync(dir, { recursive: true }));
});

/** The value of a sysctl (`path` under /proc/sys) inside the pod's network namespace, as tuning set it. */
async function podSysctl(netns: string, path: string): Promise<string> {
  return await sh("nsenter", `--net=${netns}`, "cat", `/proc/sys/${path}`);
}

/** anchor's pool and gateway for 10.0.2.0/24 in a file store, through the `anchor` commands. */
async function seedAnchor(store: string): Promise<void> {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const anchor = (...args: string[]) =>
    sh(Deno.execPath(), "run", "-A", "--quiet", main, "anchor", ...args, "--store", store);
  await anchor("pool", "set", "default", "10.0.2.[20-29]");
  await anchor("gw", "set", "10.0.2.0/24", "10.0.2.1");
}

/** anchor as the IPAM of the first plugin, over the store seedAnchor filled, for the pod's subnet 10.0.2.0/24. */
const anchorIpam = (dir: string) => ({
  ipam: { type: "anchor", store: `${dir}/store` },
  args: { cni: { "cni.anchor.org/subnet": "10.0.2.0/24" } },
});

/**
 * Each of our plugins first in a conflist with no cniVersion, Debian's tuning after it. libcni
 * writes "" into every plugin's config and reads each result as 0.1.0; tuning only takes a
 * prevResult of that type ("result type supports [0.1.0 0.2.0]").
 */
const versionless: { plugin: string; first: (dir: string) => Record<string, unknown>; ip: RegExp }[] = [
  { plugin: "anchor", first: (dir) => ({ type: "anchor", ...anchorIpam(dir) }), ip: /^10\.0\.2\.20\/24$/ },
  {
    plugin: "octopus",
    first: (dir) => ({ type: "octopus", octopus: { "10.0.2.0/24": "eth0.2" }, ...anchorIpam(dir) }),
    ip: /^10\.0\.2\.20\/24$/,
  },
  {
    plugin: "ratchet",
    first: (dir) => ({
      type: "ratchet",
      store: `${dir}/ratchet`,
      kubernetes: { node_name: "node01" },
      parent_interface: "lo",
      parent_address: "127.0.0.1",
      delegate: {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipam: { type: "host-local", subnet: "10.88.0.0/24", dataDir: `${dir}/hl` },
      },
    }),
    ip: /^10\.88\.0\.\d+\/24$/,
  },
];

for (const c of versionless) {
  Deno.test(`a libcni-style runtime: a conflist without cniVersion, ${c.plugin} then Debian's tuning, in the 0.1.0 shape`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "rt-runtime-v010-" });
    await withTempNetns(["rnode", "rlan"], async ([node, lan]) => {
      await sh("ip", "-n", lan, "link", "add", "m0", "type", "veth", "peer", "name", "eth0.2", "netns", node);
      await sh("ip", "-n", node, "link", "set", "eth0.2", "up");
      await sh("ip", "-n", lan, "link", "set", "m0", "up");
      await seedAnchor(`${dir}/store`);
      const list: Conflist = {
        name: "legacy",
        plugins: [c.first(dir), { type: "tuning", sysctl: { "net.ipv4.conf.lo.arp_notify": "1" } }],
      };
      const pod = await startPod(node);
      try {
        const rt = { containerId: "c0ffee", netns: pod.netns, ifname: "eth0", cniArgs: CNI_ARGS, node };
        const result = await addNetworkList(list, rt);
        assert.equal(result.cniVersion, "0.1.0", JSON.stringify(result));
        assert.match(result.ip4.ip, c.ip, JSON.stringify(result));
        assert.equal(result.ips, undefined, "no 0.3.0 fields in a 0.1.0 result");
        const tuned = await podSysctl(pod.netns, "net/ipv4/conf/lo/arp_notify");
        assert.equal(tuned.trim(), "1", "tuning read our 0.1.0 result and ran");
        await delNetworkList(list, rt, result);
        await delNetworkList(list, rt, result);
      } finally {
        await pod.stop();
      }
    }).finally(() => Deno.removeSync(dir, { recursive: true }));
  });
}
