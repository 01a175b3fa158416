/**
 * ratchet's per-node waiter at lab scale, on both stores: 50 pods waiting for late peers share one
 * waiter; a waiter killed with SIGKILL is replaced by the next ADD and finishes every pending link;
 * a VNI the node's kernel refuses (a foreign vxlan holds it) moves the link to another VNI, both
 * ends follow, the waiter stays idle and the store quiet; a link the kernel refuses is `failed`
 * with its errno in the store, `ratchet status` and CHECK.
 */
import assert from "node:assert/strict";
import { binDir } from "./lib/plugin.ts";
import { run, sh } from "./lib/netns.ts";
import {
  eventually,
  type LabNode,
  type LabPod,
  onEachStore,
  type RatchetLab,
  waiterPids,
} from "./lib/ratchet_lab.ts";

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** CPU time (user + system) of a process, in clock ticks (1/100 s). */
function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** The store's revision now, read as the revision of a write of the test's own (which counts one). */
async function revision(lab: RatchetLab): Promise<number> {
  const key = `/ratchet-test/${lab.prefix}/rev`;
  await lab.store.put(key, String(Date.now()));
  return (await lab.store.get(key))!.modRevision;
}

/** `n` linked pairs: p<i> on nodeA, the primary at 10.50.<i>.1, and q<i> on nodeB at 10.50.<i>.2. */
async function pairs(lab: RatchetLab, n: number, nodeA: LabNode, nodeB: LabNode) {
  const ps: LabPod[] = [], qs: LabPod[] = [];
  for (let i = 0; i < n; i++) {
    const [p, q] = await lab.addPair([`p${i}`, `q${i}`], nodeA, nodeB, `10.50.${i}`);
    ps.push(p);
    qs.push(q);
  }
  return { ps, qs };
}

onEachStore("ratchet waiter", async ({ step }) => {
  await step(
    "50 pods with late peers: exactly one waiter, every link up when its peer arrives",
    async (lab, [n1]) => {
      const { ps, qs } = await pairs(lab, 50, n1, n1);
      // Deadlines far enough that a loaded machine does not time the links out.
      const conf = lab.conf(n1, { child_timeout_s: 600 });
      await pool(ps, 8, (p) => lab.add(n1, p, conf));
      assert.equal(lab.waiters().length, 1, "one waiter for the node, however many pods wait");
      assert.equal((await lab.keys(`/ratchet/wait/${n1.name}/`)).length, 50);
      await pool(qs, 8, (q) => lab.add(n1, q, conf));
      const up = async () => (await Promise.all(ps.map((p) => lab.link(p, "in1")))).every((l) => l);
      assert.ok(await eventually(up, 120_000), lab.log());
      assert.ok(await lab.ping(ps[49], "10.50.49.2"));
      assert.ok(
        await eventually(async () => (await lab.keys(`/ratchet/wait/${n1.name}/`)).length === 0, 120_000),
        "every wait record goes once its link is up",
      );
      assert.ok(lab.waiters().length <= 1);
      await pool([...ps, ...qs], 8, (p) => lab.del(n1, p, conf));
    },
  );

  await step(
    "kill -9 the waiter while links are pending: the next ADD brings a new one, links finish",
    async (lab, [n1, n2]) => {
      const { ps, qs } = await pairs(lab, 4, n1, n2);
      const [x] = await lab.addPods(["x"]);
      await lab.setPodMeta(x, n1, { ratchet: "true" });
      const c1 = lab.conf(n1, { child_timeout_s: 600 }), c2 = lab.conf(n2, { child_timeout_s: 600 });
      for (const p of ps) await lab.add(n1, p, c1);
      const [first] = lab.waiters();
      assert.ok(first);
      Deno.kill(first, "SIGKILL");
      assert.ok(await eventually(() => lab.waiters().length === 0, 15_000));
      // The peers arrive on node2 while node1 has no waiter: their vxlan ends are made, node1's are not.
      for (const q of qs) await lab.add(n2, q, c2);
      assert.equal(await lab.link(ps[0], "in1"), undefined);
      await lab.add(n1, x, c1);
      const node1 = waiterPids([n1.name]);
      assert.ok(!node1.includes(first));
      assert.ok(node1.length >= 1, "the next ADD on node1 started a new waiter");
      const lease = JSON.parse((await lab.store.get(`/ratchet/waiter/${n1.name}`))!.value);
      assert.ok(node1.includes(lease.pid));
      const up = async () => (await Promise.all(ps.map((p) => lab.link(p, "in1")))).every((l) => l);
      assert.ok(await eventually(up, 90_000), lab.log());
      assert.ok(await lab.ping(ps[3], "10.50.3.2"));
      for (const p of [...ps, x]) await lab.del(n1, p, c1);
      for (const q of qs) await lab.del(n2, q, c2);
    },
  );

  await step(
    "a VNI the kernel refuses (a foreign vxlan on VNI 11): the link moves, both ends follow, no spin",
    async (lab, [n1, n2]) => {
      await sh(
        "ip",
        "-n",
        n1.ns,
        "link",
        "add",
        "vxforeign",
        "type",
        "vxlan",
        "id",
        "11",
        "dstport",
        "4789",
        "dev",
        "eth0",
        "local",
        n1.address,
      );
      const [pa, pb] = await lab.addPair(["pa", "pb"], n1, n2, "10.78.0");
      await lab.add(n1, pa);
      const [waiter] = lab.waiters();
      // Measured once the waiter has started (loading the program is not waiting).
      assert.ok(await eventually(() => /waiting for links on node/.test(lab.log(20)), 30_000));
      await new Promise((r) => setTimeout(r, 1000));
      // Waiting for a peer costs nothing: no CPU, no store writes.
      const [cpu0, rev0] = [cpuTicks(waiter), await revision(lab)];
      await new Promise((r) => setTimeout(r, 3000));
      const [cpu1, rev1] = [cpuTicks(waiter), await revision(lab)];
      assert.ok(cpu1 - cpu0 <= 15, `the waiter used ${cpu1 - cpu0} ticks in 3 s while waiting`);
      assert.equal(rev1 - rev0, 1, "nothing but the test's own write");
      await lab.add(n2, pb);
      assert.ok(await eventually(() => lab.ping(pa, "10.78.0.2", 1), 90_000), lab.log(60));
      const va = (await lab.link(pa, "in1")).linkinfo.info_data;
      const vb = (await lab.link(pb, "in2")).linkinfo.info_data;
      assert.notEqual(va.id, 11);
      assert.equal(va.id, vb.id, "both ends on the new VNI");
      assert.equal((await lab.link({ ...pa, ns: n1.ns }, "vxforeign")).linkinfo.info_data.id, 11);
      const state = JSON.parse((await lab.store.list("/ratchet/state/"))[0].value);
      assert.deepEqual(state.refused, [11]);
      assert.match(lab.log(100), /refused VNI 11 \(EEXIST\); moved to VNI/);
      assert.ok(
        await eventually(() => lab.waiters().length === 0, 15_000),
        "the waiters went idle and exited",
      );
      const rev2 = await revision(lab);
      assert.ok(rev2 - rev1 <= 30, `the store grew by ${rev2 - rev1} revisions for the whole episode`);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(await revision(lab) - rev2, 1, "and stays quiet afterwards");
      await lab.del(n1, pa);
      await lab.del(n2, pb);
      await lab.store.delete(`/ratchet-test/${lab.prefix}/rev`);
    },
  );

  await step(
    "a link the kernel refuses is `failed` with its errno: store, status, CHECK; DEL clears it",
    async (lab, [n1, n2]) => {
      // node1's config names an underlay it does not have: b's end on node2 is made, a's is refused.
      const conf1 = lab.conf(n1, { parent_interface: "eth9" });
      const [a, b] = await lab.addPair(["fa", "fb"], n1, n2, "10.77.0");
      await lab.store.put(
        `/ratchet/links/${lab.prefix}`,
        JSON.stringify({
          id: lab.prefix,
          a: { namespace: "default", pod: a.name, ifname: "in1", ip: "10.77.0.1/24" },
          b: { namespace: "default", pod: b.name, ifname: "in2", ip: "10.77.0.2/24" },
        }),
      );
      const ra = await lab.add(n1, a, conf1);
      await lab.add(n2, b);
      const waitKey = `/ratchet/wait/${n1.name}/${a.containerId}`;
      const trouble = async () =>
        Object.values(JSON.parse((await lab.store.get(waitKey))?.value ?? "{}").links ?? {})[0] as
          | { status: string; errno?: string; reason: string }
          | undefined;
      assert.ok(await eventually(async () => (await trouble())?.status === "failed", 15_000), lab.log());
      assert.equal((await trouble())!.errno, "ENODEV");
      assert.match((await trouble())!.reason, /eth9/);
      const store = "dir" in lab.storeAt
        ? ["--store", lab.storeAt.dir]
        : ["--etcd-endpoints", lab.storeAt.etcd];
      const status = await run(`${binDir()}/ratchet`, "status", ...store);
      assert.match(status.stdout, new RegExp(`failed\\s+${lab.prefix}.*ENODEV`));
      const chk = await lab.call("CHECK", n1, a, { ...conf1, prevResult: ra });
      assert.equal(chk.json?.code, 105, chk.stdout);
      assert.match(chk.json.msg, /failed/);
      // Retried at a bounded rate: a handful of attempts in 4 s, not hundreds.
      const tries = () => lab.log(2000).split("\n").filter((l) => l.includes("ENODEV")).length;
      const before = tries();
      await new Promise((r) => setTimeout(r, 4000));
      assert.ok(tries() - before <= 6, `${tries() - before} attempts in 4 s`);
      await lab.del(n1, a, conf1);
      await lab.del(n2, b);
      await lab.store.delete(`/ratchet/links/${lab.prefix}`);
    },
  );
});
