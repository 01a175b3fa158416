/**
 * anchor under concurrency, as real processes: 200 ADDs at once from two "nodes" and two namespaces
 * sharing one address range, on both stores; and etcd killed in the middle of a burst; plugin processes
 * killed with SIGKILL mid-ADD; and a 3-member etcd cluster losing its leader.
 */
import assert from "node:assert/strict";
import {
  anchorConf,
  type AnchorStore,
  callAnchor,
  inconsistencies,
  openAnchorStore,
  pool,
  records,
  seed,
  STORE_KINDS,
} from "./lib/anchor_fixture.ts";
import { type PluginReply, runPlugin } from "./lib/plugin.ts";
import { TempNetns } from "./lib/netns.ts";
import { startEtcdCluster } from "./lib/etcd.ts";
import { openStore } from "../mod/store/mod.ts";

const SUBNET = { "cni.anchor.org/subnet": "10.1.0.0/24" };
// Both namespaces draw from the same range: only the guard keeps them apart.
const KEYS = {
  "/anchor/ns/red": "10.1.0.[2-254]",
  "/anchor/ns/blue": "10.1.0.[2-254]",
  "/anchor/gw/10.1.0.0/24": "10.1.0.1",
};
const PARALLEL = 25;

function addFor(
  s: AnchorStore,
  netns: string,
  id: string,
  i: number,
  ipam: Record<string, unknown> = {},
): Promise<PluginReply> {
  return callAnchor({
    command: "ADD",
    id,
    netns,
    conf: anchorConf(s, { args: SUBNET, ipam: { kubernetes: { node_name: nodeOf(i) }, ...ipam } }),
    cniArgs: `K8S_POD_NAMESPACE=${i % 4 < 2 ? "red" : "blue"};K8S_POD_NAME=p${i}`,
  });
}

function nodeOf(i: number): string {
  return i % 2 ? "node-a" : "node-b";
}

for (const kind of STORE_KINDS) {
  Deno.test(`200 concurrent ADDs from two nodes and two namespaces never share an address, and none is lost (${kind} store)`, async () => {
    const s = await openAnchorStore(kind);
    const ns = await TempNetns.create(["anchor"]);
    try {
      await seed(s.store, KEYS);
      const ids = Array.from({ length: 200 }, (_, i) => `burst-${i}`);
      // 25 processes loading the etcd client at once starve each other of the 2 cores for seconds; the
      // default 2 s deadline is for a node where a plugin call has a core, so the burst gets more.
      const replies = await pool(
        ids,
        PARALLEL,
        (id, i) => addFor(s, ns.path(0), id, i, { etcd_timeout_ms: 15_000 }),
      );
      const failed = replies.map((r, i) => [ids[i], r.stdout]).filter((_, i) => replies[i].code !== 0);
      assert.deepEqual(failed, []);
      const given = replies.map((r) => r.json.ips[0].address);
      assert.equal(new Set(given).size, 200, "an address was given twice");
      const recs = await records(s.store);
      assert.equal(recs.size, 200);
      ids.forEach((id, i) => assert.equal(`${recs.get(id)?.[0]}/24`, given[i], `record of ${id}`));
      assert.deepEqual(await inconsistencies(s.store), []);
      for (const a of given) assert.match(a, /^10\.1\.0\.([2-9]|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])\/24$/);
    } finally {
      await ns.cleanup();
      await s.close();
    }
  });
}

Deno.test("etcd killed during 30 ADDs: each succeeds or answers 11, and GC afterwards leaves the store consistent", async () => {
  const s = await openAnchorStore("etcd");
  const ns = await TempNetns.create(["anchor"]);
  try {
    await seed(s.store, KEYS);
    const ids = Array.from({ length: 30 }, (_, i) => `k-${i}`);
    let done = 0;
    const replies = await pool(ids, 10, async (id, i) => {
      const r = await addFor(s, ns.path(0), id, i, { etcd_timeout_ms: 1000 });
      if (++done === 10) s.etcd!.kill();
      return r;
    });
    const outcomes = replies.map((r) => (r.code === 0 ? 0 : r.json?.code));
    const odd = outcomes.map((c, i) => [ids[i], c, replies[i].stdout]).filter(([, c]) => c !== 0 && c !== 11);
    assert.deepEqual(odd, [], "every ADD must succeed or ask to try again later");
    const ok = ids.filter((_, i) => outcomes[i] === 0);
    assert.ok(ok.length > 0 && ok.length < 30, `the kill must land mid-burst (${ok.length} succeeded)`);

    await s.etcd!.restart();
    // The runtime now knows which attachments exist: the ADDs that succeeded.
    for (const node of ["node-a", "node-b"]) {
      const valid = ids.flatMap((
        id,
        i,
      ) => (outcomes[i] === 0 && nodeOf(i) === node ? [{ containerID: id, ifname: "eth0" }] : []));
      const gc = await callAnchor({
        command: "GC",
        netns: ns.path(0),
        conf: {
          // Every ADD has ended, so nothing is in flight: no grace period needed.
          ...anchorConf(s, { ipam: { kubernetes: { node_name: node }, gc_grace_seconds: 0 } }),
          "cni.dev/valid-attachments": valid,
        },
      });
      assert.equal(gc.code, 0, gc.stdout);
    }
    const recs = await records(s.store);
    assert.deepEqual(
      [...recs.keys()].sort(),
      [...ok].sort(),
      "allocations must be exactly the ADDs that succeeded",
    );
    ids.forEach((id, i) => {
      if (outcomes[i] === 0) assert.equal(`${recs.get(id)![0]}/24`, replies[i].json.ips[0].address);
    });
    assert.deepEqual(await inconsistencies(s.store), []);
  } finally {
    await ns.cleanup();
    await s.close();
  }
});

for (const kind of STORE_KINDS) {
  Deno.test(`GC racing ADDs, listing only the finished ones, loses no record and hands out no address twice (${kind} store)`, async () => {
    const s = await openAnchorStore(kind);
    const ns = await TempNetns.create(["anchor"]);
    try {
      await seed(s.store, KEYS);
      const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
      const done: string[] = [];
      let adding = true;
      const conf = (extra: Record<string, unknown> = {}) =>
        anchorConf(s, {
          args: SUBNET,
          ipam: { kubernetes: { node_name: "node-a" }, etcd_timeout_ms: 20_000 },
          ...extra,
        });
      const adds = pool(ids, 8, async (id) => {
        const r = await callAnchor({
          command: "ADD",
          id,
          netns: ns.path(0),
          conf: conf(),
          cniArgs: `K8S_POD_NAMESPACE=red;K8S_POD_NAME=${id}`,
        });
        if (r.code === 0) done.push(id);
        return r;
      }).finally(() => (adding = false));
      // A runtime's GC, again and again while ADDs run: it lists only the containers whose ADD has returned.
      let gcs = 0;
      while (adding) {
        const gc = await callAnchor({
          command: "GC",
          netns: ns.path(0),
          conf: {
            ...conf(),
            "cni.dev/valid-attachments": done.map((id) => ({ containerID: id, ifname: "eth0" })),
          },
        });
        assert.equal(gc.code, 0, gc.stdout);
        gcs++;
      }
      const replies = await adds;
      assert.ok(gcs >= 2, `GC overlapped the ADDs (${gcs} runs)`);
      replies.forEach((r, i) => assert.equal(r.code, 0, `${ids[i]}: ${r.stdout}`));
      const recs = await records(s.store);
      ids.forEach((id, i) =>
        assert.equal(`${recs.get(id)?.[0]}/24`, replies[i].json.ips[0].address, `${id} kept its record`)
      );
      const handed = replies.map((r) => r.json.ips[0].address);
      assert.equal(new Set(handed).size, handed.length, "no address was handed out twice");
      assert.deepEqual(await inconsistencies(s.store), []);
    } finally {
      await ns.cleanup();
      await s.close();
    }
  });
}

for (const kind of STORE_KINDS) {
  Deno.test(`ADDs killed with SIGKILL mid-flight leave a consistent store; retried, every ADD is done once (${kind} store)`, async () => {
    const s = await openAnchorStore(kind);
    const ns = await TempNetns.create(["anchor"]);
    try {
      await seed(s.store, KEYS);
      const ids = Array.from({ length: 40 }, (_, i) => `kill-${i}`);
      const conf = (i: number) =>
        anchorConf(s, {
          args: SUBNET,
          ipam: { kubernetes: { node_name: nodeOf(i) }, etcd_timeout_ms: 15_000 },
        });
      const cniArgs = (i: number) => `K8S_POD_NAMESPACE=${i % 4 < 2 ? "red" : "blue"};K8S_POD_NAME=p${i}`;
      // runPlugin SIGKILLs a call that outlives its timeout: spread over a process's whole life.
      const first = await pool(ids, 10, (id, i) =>
        runPlugin("anchor", {
          command: "ADD",
          containerId: id,
          ifname: "eth0",
          netns: ns.path(0),
          cniArgs: cniArgs(i),
          conf: conf(i),
          timeoutMs: 100 + Math.random() * 600,
        }));
      const killed = ids.filter((_, i) => first[i].code !== 0);
      // A killed call printed nothing or, killed on its way out, its whole result: never a CNI error.
      const printed = first.map((r) => r.stdout.trim() ? JSON.parse(r.stdout) : undefined);
      for (const [i, r] of first.entries()) {
        if (r.code !== 0) {
          assert.equal(printed[i]?.code, undefined, `${ids[i]} was killed, not refused: ${r.stdout}`);
        }
      }
      assert.ok(killed.length > 0, "some calls were killed");
      assert.deepEqual(
        await inconsistencies(s.store),
        [],
        "every guard has its record and every record its guard",
      );
      // The runtime retries what failed; the ones that finished answer again with the same address.
      const again = await pool(
        ids,
        10,
        (id, i) => callAnchor({ command: "ADD", id, netns: ns.path(0), conf: conf(i), cniArgs: cniArgs(i) }),
      );
      assert.deepEqual(again.filter((r) => r.code !== 0).map((r) => r.stdout), []);
      first.forEach((_, i) => {
        if (printed[i]) assert.equal(again[i].json.ips[0].address, printed[i].ips[0].address, ids[i]);
      });
      const recs = await records(s.store);
      assert.deepEqual([...recs.keys()].sort(), [...ids].sort(), "one allocation per ADD");
      assert.equal(new Set(again.map((r) => r.json.ips[0].address)).size, ids.length, "no address twice");
      assert.deepEqual(await inconsistencies(s.store), []);
    } finally {
      await ns.cleanup();
      await s.close();
    }
  });
}

Deno.test("a 3-member etcd cluster loses its leader during ADDs: each succeeds or answers 11, and retried, all are done once", async () => {
  const cluster = await startEtcdCluster(3);
  const ns = await TempNetns.create(["anchor"]);
  const store = await openStore({ kind: "etcd", endpoints: cluster.endpoints, timeoutMs: 5000 });
  try {
    await seed(store, KEYS);
    // The leader first, so that its refused connections send every call on to the next member.
    const leader = await cluster.leader();
    const order = [leader, ...[0, 1, 2].filter((i) => i !== leader)].map((i) => cluster.endpoints[i]);
    const s = { ipam: { etcd_endpoints: order } } as unknown as AnchorStore;
    const ids = Array.from({ length: 60 }, (_, i) => `lead-${i}`);
    const add = (id: string, i: number) => addFor(s, ns.path(0), id, i, { etcd_timeout_ms: 3000 });
    let done = 0;
    const first = await pool(ids, 10, async (id, i) => {
      const r = await add(id, i);
      if (++done === 15) cluster.kill(leader);
      return r;
    });
    const outcomes = first.map((r) => (r.code === 0 ? 0 : r.json?.code));
    const odd = outcomes.map((c, i) => [ids[i], c, first[i].stdout]).filter(([, c]) => c !== 0 && c !== 11);
    assert.deepEqual(odd, [], "every ADD succeeds or asks to try again later");
    // Retried as a runtime would, until the survivors have elected a leader and serve again.
    const final = [...first];
    for (let round = 0; round < 20 && final.some((r) => r.code !== 0); round++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const [i, id] of ids.entries()) {
        if (final[i].code !== 0) final[i] = await add(id, i);
      }
    }
    assert.deepEqual(
      final.filter((r) => r.code !== 0).map((r) => r.stdout),
      [],
      "after retries every ADD is done",
    );
    const given = final.map((r) => r.json.ips[0].address);
    assert.equal(new Set(given).size, ids.length, "no address given twice");
    const recs = await records(store);
    assert.deepEqual([...recs.keys()].sort(), [...ids].sort());
    assert.deepEqual(await inconsistencies(store), []);
  } finally {
    await store.close();
    await ns.cleanup();
    await cluster.stop();
  }
});
