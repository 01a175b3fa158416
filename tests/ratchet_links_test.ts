/**
 * ratchet's links on two simulated nodes, through the real launchers, on both stores: a veth on one
 * node, a vxlan across nodes, a late peer finished by the node's waiter, two pods at the same instant, a
 * re-created pod, and DEL that leaves nothing behind (kernel, store, processes).
 */
import assert from "node:assert/strict";
import { ipJson } from "./lib/netns.ts";
import {
  eventually,
  type LabNode,
  type LabPod,
  onEachStore,
  type RatchetLab,
  sampleLabels,
} from "./lib/ratchet_lab.ts";

/** Pods a (on nodeA) and b (on nodeB) linked as in the original's sample, at 10.1.0.1 and .2 /prefix. */
function pairUp(lab: RatchetLab, nodeA: LabNode, nodeB: LabNode, prefix = "24"): Promise<[LabPod, LabPod]> {
  return lab.addPair(["a", "b"], nodeA, nodeB, "10.1.0", (a) => ({
    ...sampleLabels(a),
    "ratchet.local_prefix": prefix,
    "ratchet.pair_prefix": prefix,
  }));
}

/** The non-loopback interfaces of a pod, by kind. */
async function linksOf(
  pod: LabPod,
): Promise<{ ifname: string; kind?: string; ifindex: number; link_index?: number }[]> {
  const all = await ipJson(pod.ns, "-d", "link", "show");
  return all.filter((l: { ifname: string }) => l.ifname !== "lo").map((l: any) => ({
    ...l,
    kind: l.linkinfo?.info_kind,
  }));
}

onEachStore("ratchet links", async ({ step }) => {
  await step(
    "same node: one veth pair with the requested names, any prefix length, ping, CHECK, DEL twice",
    async (lab, [n1]) => {
      const [a, b] = await pairUp(lab, n1, n1, "30");
      const ra = await lab.add(n1, a);
      assert.deepEqual(
        ra.interfaces.map((i: { name: string }) => i.name),
        ["lo"],
        "the peer is not there: only the boot network",
      );
      // The waiter ADD just started may still be exec'ing (setsid, the launcher, deno), when its
      // /proc cmdline can read empty: wait for it to show, still exactly one.
      assert.ok(
        await eventually(() => lab.waiters().length === 1, 5_000),
        "ADD left the node's waiter waiting for the peer",
      );
      const rb = await lab.add(n1, b);
      const in2 = rb.interfaces.findIndex((i: { name: string }) => i.name === "in2");
      assert.ok(in2 > 0, JSON.stringify(rb));
      assert.equal(rb.interfaces[in2].sandbox, b.path);
      assert.deepEqual(rb.ips.find((ip: { interface: number }) => ip.interface === in2), {
        address: "10.1.0.2/30",
        interface: in2,
      });
      const [la] = await linksOf(a), [lb] = await linksOf(b);
      assert.deepEqual([la.ifname, la.kind, lb.ifname, lb.kind], ["in1", "veth", "in2", "veth"]);
      assert.equal(la.link_index, lb.ifindex, "in1 and in2 are the two ends of one veth");
      assert.equal(rb.interfaces[in2].mac, (await lab.link(b, "in2")).address);
      assert.deepEqual(await lab.addrs(a, "in1"), ["10.1.0.1/30"]);
      assert.deepEqual(await lab.addrs(b, "in2"), ["10.1.0.2/30"]);
      const nodeLinks = (await ipJson(n1.ns, "link", "show")).map((l: { ifname: string }) => l.ifname)
        .sort();
      assert.deepEqual(nodeLinks, ["eth0", "lo"], "nothing was left in the node namespace");
      assert.ok(await lab.ping(a, "10.1.0.2"), "a pings b across the veth");
      assert.ok(
        await eventually(() => lab.waiters().length === 0),
        "the waiter exits once nothing is left to wait for",
      );
      assert.equal((await lab.call("CHECK", n1, b, { ...lab.conf(n1), prevResult: rb })).code, 0);
      await lab.del(n1, a);
      await lab.del(n1, a);
      assert.deepEqual(await linksOf(b), [], "b's end went with a's");
      await lab.del(n1, b);
      await lab.del(n1, b);
    },
  );

  await step(
    "across nodes: a vxlan end in each pod, one VNI, underlay MTU - 50, ping both ways",
    async (lab, [n1, n2]) => {
      const [a, b] = await pairUp(lab, n1, n2);
      const ra = await lab.add(n1, a);
      const rb = await lab.add(n2, b);
      assert.ok(rb.interfaces.some((i: { name: string }) => i.name === "in2"));
      assert.ok(
        await eventually(async () => (await lab.link(a, "in1")) !== undefined),
        `a's end was never made\n${lab.log()}`,
      );
      const va = (await lab.link(a, "in1")).linkinfo, vb = (await lab.link(b, "in2")).linkinfo;
      assert.equal(va.info_kind, "vxlan");
      assert.equal(va.info_data.id, vb.info_data.id);
      assert.deepEqual([va.info_data.remote, va.info_data.local], ["192.168.1.225", "192.168.1.224"]);
      assert.deepEqual([vb.info_data.remote, vb.info_data.local], ["192.168.1.224", "192.168.1.225"]);
      assert.equal(va.info_data.port, 4789);
      assert.equal(va.info_data.learning, false);
      assert.equal((await lab.link(a, "in1")).mtu, 1450);
      assert.deepEqual(await lab.keys(`/ratchet/vni/${va.info_data.id}`), [
        `/ratchet/vni/${va.info_data.id}`,
      ]);
      assert.ok(await lab.ping(a, "10.1.0.2"), "a pings b over vxlan");
      assert.ok(await lab.ping(b, "10.1.0.1"), "b pings a over vxlan");
      assert.ok(await eventually(() => lab.waiters().length === 0));
      const withIn1 = { ...ra, interfaces: [...ra.interfaces, { name: "in1", sandbox: a.path }] };
      assert.equal((await lab.call("CHECK", n1, a, { ...lab.conf(n1), prevResult: withIn1 })).code, 0);
      await lab.del(n2, b);
      assert.ok(await lab.link(a, "in1"), "a's vxlan end stays for b's return");
      await lab.del(n1, a);
      await lab.del(n1, a);
    },
  );

  await step(
    "a peer 5 s late: ADD returns at once, the node's waiter finishes the link",
    async (lab, [n1, n2]) => {
      const [a, b] = await pairUp(lab, n1, n2);
      const started = Date.now();
      await lab.add(n1, a);
      assert.ok(Date.now() - started < 5000, "ADD did not wait for the peer");
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal(await lab.link(a, "in1"), undefined);
      assert.equal(lab.waiters().length, 1, "the waiter is still waiting");
      await lab.add(n2, b);
      assert.ok(await eventually(async () => (await lab.link(a, "in1")) !== undefined), lab.log());
      assert.ok(await lab.ping(a, "10.1.0.2"));
      assert.match(lab.log(200), /"role":"ratchet-child".*vxlan .* end made/);
      await lab.del(n1, a);
      await lab.del(n2, b);
    },
  );

  await step(
    "both pods at the same instant: exactly one veth pair, made before both ADDs return",
    async (lab, [n1]) => {
      for (let round = 0; round < 3; round++) {
        const [a, b] = await pairUp(lab, n1, n1);
        const [ra, rb] = await Promise.all([lab.add(n1, a), lab.add(n1, b)]);
        const la = await linksOf(a), lb = await linksOf(b);
        assert.deepEqual(
          la.map((l) => [l.ifname, l.kind]),
          [["in1", "veth"]],
          `round ${round}: a has ${JSON.stringify(la)}`,
        );
        assert.deepEqual(
          lb.map((l) => [l.ifname, l.kind]),
          [["in2", "veth"]],
          `round ${round}: b has ${JSON.stringify(lb)}`,
        );
        assert.equal(la[0].link_index, lb[0].ifindex);
        const nodeLinks = (await ipJson(n1.ns, "link", "show")).map((l: { ifname: string }) => l.ifname)
          .sort();
        assert.deepEqual(nodeLinks, ["eth0", "lo"]);
        // The side that saw the other registered made the pair before returning, so its result names
        // its end; the other may have found no peer yet and left the link to its child.
        const named = [
          ra.interfaces.some((i: { name: string }) => i.name === "in1"),
          rb.interfaces.some((i: { name: string }) => i.name === "in2"),
        ];
        assert.ok(named.includes(true), JSON.stringify([ra, rb]));
        assert.ok(await lab.ping(b, "10.1.0.1", 1));
        await Promise.all([lab.del(n1, a), lab.del(n1, b)]);
      }
    },
  );

  await step(
    "a re-created pod: its links are rebuilt and the peer's side repaired (veth and vxlan)",
    async (lab, [n1, n2]) => {
      for (const [nodeB, kind] of [[n1, "veth"], [n2, "vxlan"]] as const) {
        const [a, b] = await pairUp(lab, n1, nodeB);
        await lab.add(n1, a);
        await lab.add(nodeB, b);
        // Across nodes a's end is made by a's child once b registers.
        assert.ok(await eventually(() => lab.ping(a, "10.1.0.2", 1)), `${kind}: first ping`);
        const vni = kind === "vxlan" ? (await lab.link(b, "in2")).linkinfo.info_data.id : undefined;
        await lab.del(nodeB, b);
        await lab.recreate(b);
        await lab.add(nodeB, b);
        assert.equal((await lab.link(a, "in1"))?.linkinfo.info_kind, kind);
        if (vni !== undefined) {
          assert.equal((await lab.link(b, "in2")).linkinfo.info_data.id, vni, "the link keeps its VNI");
        }
        assert.ok(await lab.ping(a, "10.1.0.2"), `${kind}: ping after b came back\n${lab.log()}`);
        await lab.del(n1, a);
        await lab.del(nodeB, b);
      }
    },
  );

  await step(
    "DEL after the namespace is gone, and without CNI_NETNS, succeeds and cleans the store",
    async (lab, [n1]) => {
      const [a, b] = await pairUp(lab, n1, n1);
      await lab.add(n1, a);
      await lab.add(n1, b);
      const old = { ...a };
      await lab.recreate(a); // deletes a's namespace, as a crashed runtime would leave it
      await lab.del(n1, old, lab.conf(n1), old.path);
      const r = await lab.call("DEL", n1, b, lab.conf(n1), { netns: "" });
      assert.equal(r.code, 0, r.stdout);
      assert.equal(
        await lab.link(b, "in2"),
        undefined,
        "DEL without CNI_NETNS removed the end from the recorded namespace",
      );
    },
  );
});
