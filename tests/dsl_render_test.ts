import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { lintTopology } from "../dsl/lint.ts";
import { podLinkEnds } from "../dsl/pod_links.ts";
import { renderPodSpecs } from "../dsl/render_pods.ts";
import { topologyToStore } from "../dsl/render_store.ts";
import { applyTopology, isManagedKey, type KvStore, topologyStatus } from "../dsl/apply.ts";
import { renderCommand } from "../dsl/cli.ts";
import { DEFAULT_TOPOLOGY } from "../dsl/default_topology.ts";
import { LINKS_ANNOTATION, parsePodLinks, podLinksToMetadata } from "../mod/links/mod.ts";
import type { Topology } from "../dsl/types.ts";

const root = new URL("../", import.meta.url).pathname;
const LAB = await Deno.readTextFile(`${root}pod_specs/lab.topo`);

function clean(text: string, file: string): Topology {
  const r = lintTopology(text, file);
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === "error"), [], `${file} lints without errors`);
  return r.topology;
}

type PodDoc = {
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: { nodeName: string };
};

for (const [name, text] of [["@default", DEFAULT_TOPOLOGY], ["pod_specs/lab.topo", LAB]]) {
  Deno.test(`round trip ${name}: pod specs → YAML → parsePodLinks gives the topology's links`, async () => {
    const topo = clean(text, name);
    const docs = parseAllDocuments(await renderPodSpecs(topo)).map((d) => d.toJSON() as PodDoc);
    assert.equal(docs.length, topo.pods.length);
    const ends = podLinkEnds(topo);
    const rebuilt = new Set<string>();
    for (const doc of docs) {
      const pod = topo.pods.find((p) => p.name === doc.metadata.name)!;
      assert.equal(doc.metadata.namespace, pod.namespace);
      assert.equal(doc.spec.nodeName, pod.node);
      const got = parsePodLinks({
        name: pod.name,
        namespace: pod.namespace,
        labels: doc.metadata.labels,
        annotations: doc.metadata.annotations,
      });
      assert.deepEqual(got.errors, []);
      assert.equal(got.eligible, ends.has(pod.name), `${pod.name} is eligible exactly when it has links`);
      assert.deepEqual(got.links, ends.get(pod.name) ?? []);
      // The labels alone (old tooling's view) must agree with the first link when they carry one.
      const labelsOnly = parsePodLinks({
        name: pod.name,
        namespace: pod.namespace,
        labels: doc.metadata.labels,
      });
      assert.deepEqual(labelsOnly.errors, []);
      if (labelsOnly.links.length) assert.deepEqual(labelsOnly.links, [got.links[0]]);
      for (const l of got.links) {
        if (!l.primary) continue;
        rebuilt.add(
          `${pod.namespace}.${pod.name}.${l.ifname}--${l.peer.namespace}.${l.peer.pod}.${l.peer.ifname}`,
        );
      }
    }
    assert.deepEqual(
      [...rebuilt].sort(),
      topo.links.map((l) => l.id).sort(),
      "every link comes back once, from its primary end",
    );
  });
}

Deno.test("pod_specs/*.yaml are what the renderer produces today", async () => {
  assert.equal(
    await Deno.readTextFile(`${root}pod_specs/default.yaml`),
    await renderPodSpecs(clean(DEFAULT_TOPOLOGY, "@default")),
  );
  assert.equal(
    await Deno.readTextFile(`${root}pod_specs/lab.yaml`),
    await renderPodSpecs(clean(LAB, "pod_specs/lab.topo")),
  );
});

Deno.test("the original example.yaml reads as the original meant it", async () => {
  const docs = parseAllDocuments(await Deno.readTextFile(`${root}pod_specs/example.yaml`)).map((d) =>
    d.toJSON() as PodDoc
  );
  const [primary, pair] = docs.map((d) =>
    parsePodLinks({ name: d.metadata.name, namespace: "default", labels: d.metadata.labels })
  );
  assert.deepEqual(primary, {
    eligible: true,
    errors: [],
    links: [{
      ifname: "in1",
      ip: "192.168.2.100/24",
      peer: { pod: "pair-pod", namespace: "default", ifname: "in2", ip: "192.168.2.101/24" },
      primary: true,
    }],
  });
  assert.deepEqual(
    pair,
    { eligible: true, errors: [], links: [] },
    "the pair learns its link from the store",
  );
});

Deno.test("links codec: prefix labels, IPv6 only in the annotation, annotation wins, opt-out", () => {
  const v4 = {
    ifname: "in1",
    ip: "10.1.0.1/30",
    peer: { pod: "b", namespace: "default", ifname: "in1", ip: "10.1.0.2/30" },
    primary: true,
  };
  const v6 = {
    ifname: "in2",
    ip: "fd00::1/64",
    peer: { pod: "c", namespace: "default", ifname: "x" },
    mtu: 1400,
    primary: false,
  };
  const m = podLinksToMetadata({ name: "a", namespace: "default" }, [v4, v6]);
  assert.equal(m.labels["ratchet.local_prefix"], "30");
  assert.equal(m.labels["ratchet.pair_prefix"], "30");
  assert.ok(
    Object.values(m.labels).every((v) => !v.includes(":") && !v.includes("/")),
    "label values stay legal",
  );
  assert.deepEqual(parsePodLinks({ name: "a", namespace: "default", ...m }).links, [v4, v6]);
  const only6 = podLinksToMetadata({ name: "a", namespace: "default" }, [v6]);
  assert.deepEqual(only6.labels, { ratchet: "true", "ratchet.pod_name": "a", "ratchet.primary": "false" });
  assert.deepEqual(podLinksToMetadata({ name: "a", namespace: "default" }, []), {
    labels: {},
    annotations: {},
  });
  const both = { labels: { ...m.labels, "ratchet.local_ifname": "zz" }, annotations: only6.annotations };
  assert.deepEqual(
    parsePodLinks({ name: "a", namespace: "default", ...both }).links,
    [v6],
    "annotation wins",
  );
  const optOut = { labels: { ratchet: "false" }, annotations: only6.annotations };
  assert.deepEqual(parsePodLinks({ name: "a", namespace: "default", ...optOut }), {
    eligible: false,
    links: [],
    errors: [],
  });
  assert.equal(parsePodLinks({ name: "a", namespace: "default", labels: { app: "a" } }).eligible, false);
});

Deno.test("links codec: malformed entries are named and skipped, good ones kept", () => {
  const bad = JSON.stringify([
    { ifname: "in1", ip: "10.0.0.1/24", peer: { pod: "b", ifname: "in1", ip: "10.0.0.2/24" } },
    { ifname: "way-too-long-ifname", peer: { pod: "b", ifname: "in2" } },
    { ifname: "in3", ip: "10.0.0.300/24", peer: { pod: "B!", ifname: "in3" }, mtu: 10 },
    { ifname: "in1", peer: { pod: "c", ifname: "in1" } },
    "nope",
  ]);
  const r = parsePodLinks({ name: "a", namespace: "ns1", annotations: { [LINKS_ANNOTATION]: bad } });
  assert.equal(r.eligible, true);
  assert.deepEqual(r.links.map((l) => [l.ifname, l.peer.namespace]), [["in1", "ns1"]]);
  const want = [
    /\[1\]\.ifname/,
    /\[2\]\.ip/,
    /\[2\]\.peer\.pod/,
    /\[2\]\.mtu/,
    /\[3\]\.ifname: in1 is already used/,
    /\[4\]: must be an object/,
  ];
  assert.equal(r.errors.length, want.length, r.errors.join("\n"));
  want.forEach((w, i) => assert.match(r.errors[i], w));
  assert.match(
    parsePodLinks({ name: "a", namespace: "d", annotations: { [LINKS_ANNOTATION]: "{" } }).errors[0],
    /not JSON/,
  );
  const labels = {
    ratchet: "true",
    "ratchet.local_ifname": "in1",
    "ratchet.local_ip": "10.0.0.1",
    "ratchet.local_prefix": "40",
  };
  const lr = parsePodLinks({ name: "a", namespace: "d", labels });
  assert.deepEqual(lr.links, []);
  assert.deepEqual(lr.errors.map((e) => e.split(":")[0]), [
    "label ratchet.pair_name",
    "label ratchet.pair_ifname",
    "label ratchet.local_prefix",
  ]);
});

/** A map-backed store for apply's logic; the real stores are tested in their own area. */
class MapStore implements KvStore {
  readonly data = new Map<string, string>();
  writes = 0;
  deletes = 0;
  list(prefix: string) {
    return Promise.resolve(
      [...this.data].filter(([k]) => k.startsWith(prefix)).map(([key, value]) => ({ key, value })),
    );
  }
  put(key: string, value: string) {
    this.writes++;
    this.data.set(key, value);
    return Promise.resolve();
  }
  delete(key: string) {
    this.deletes++;
    this.data.delete(key);
    return Promise.resolve();
  }
}

Deno.test("apply writes the rendered keys, is idempotent, and prunes only its own shapes", async () => {
  const store = new MapStore();
  const runtime = {
    "/anchor/cn/abc123": "10.0.2.20,lone-pod,default,",
    "/ratchet/links/default.left-pod.in1--default.right-pod.in1/vni": "5001",
    "/ratchet/pods/default/left-pod/state": "up",
    "/anchor/gw/not-a-subnet": "x",
  };
  for (const [k, v] of Object.entries(runtime)) store.data.set(k, v);
  const topo = clean(DEFAULT_TOPOLOGY, "@default");
  const want = topologyToStore(topo);
  const first = await applyTopology(topo, store);
  assert.equal(first.put.length, want.size);
  for (const [k, v] of want) assert.equal(store.data.get(k), v);
  assert.equal(JSON.parse(store.data.get("/ratchet/nodes/node01")!).parent_address, "192.168.1.224");
  assert.equal(store.data.get("/anchor/gw/10.0.3.0/24"), "10.0.3.1");
  assert.equal(store.data.get("/ratchet/topology/cluster"), "lab");

  const writesBefore = store.writes;
  const again = await applyTopology(topo, store, { prune: true });
  assert.deepEqual([again.put, again.deleted, again.unchanged], [[], [], want.size]);
  assert.equal(store.writes, writesBefore, "nothing rewritten");
  assert.equal((await topologyStatus(store, topo)).inSync, true);

  const smaller = clean(
    DEFAULT_TOPOLOGY.replace(/^link left-pod.*$/m, "").replace("10.0.3.[20-29]", "10.0.3.[20-28]"),
    "smaller",
  );
  const noPrune = await applyTopology(smaller, store);
  assert.deepEqual(noPrune.put, [
    "/anchor/ns/default",
    "/ratchet/pods/default/left-pod",
    "/ratchet/pods/default/right-pod",
  ]);
  assert.ok(
    store.data.has("/ratchet/links/default.left-pod.in1--default.right-pod.in1"),
    "kept without --prune",
  );
  const status = await topologyStatus(store, smaller);
  assert.equal(status.inSync, false);
  assert.deepEqual(status.entries.filter((e) => e.state !== "ok").map((e) => [e.state, e.key]), [
    ["extra", "/ratchet/links/default.left-pod.in1--default.right-pod.in1"],
  ]);
  const pruned = await applyTopology(smaller, store, { prune: true });
  assert.deepEqual(pruned.deleted, ["/ratchet/links/default.left-pod.in1--default.right-pod.in1"]);
  for (const [k, v] of Object.entries(runtime)) assert.equal(store.data.get(k), v, `${k} untouched`);
  assert.equal((await topologyStatus(store, smaller)).inSync, true);

  store.data.set("/ratchet/nodes/node01", "{}");
  const drift = await topologyStatus(store, smaller);
  assert.deepEqual(drift.entries.filter((e) => e.state !== "ok").map((e) => [e.state, e.key]), [[
    "differs",
    "/ratchet/nodes/node01",
  ]]);
  assert.deepEqual(drift.counts, { nodes: 2, pods: 5, links: 1, pools: 1, gateways: 2 });
});

Deno.test("isManagedKey accepts apply's shapes only", () => {
  for (
    const k of [
      "/ratchet/nodes/n1",
      "/ratchet/pods/ns/p",
      "/ratchet/links/a.b.c--d.e.f",
      "/anchor/ns/default",
      "/anchor/gw/fd00::/64",
      "/ratchet/topology/cluster",
    ]
  ) {
    assert.ok(isManagedKey(k), k);
  }
  for (
    const k of [
      "/anchor/cn/x",
      "/anchor/lock",
      "/ratchet/pods/ns/p/x",
      "/ratchet/links/id/vni",
      "/anchor/gw/10.0.1.0",
      "/ratchet/nodes/",
      "/ratchet/vxlanid",
    ]
  ) {
    assert.ok(!isManagedKey(k), k);
  }
});

async function captured(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  // renderCommand writes through Deno.stdout; run it in a subprocess-free way by swapping write.
  const chunks: Uint8Array[] = [];
  const write = Deno.stdout.write;
  const error = console.error;
  Deno.stdout.write = (p: Uint8Array) => (chunks.push(p.slice()), Promise.resolve(p.length));
  console.error = () => {};
  try {
    const code = await run();
    return { code, out: new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))) };
  } finally {
    Deno.stdout.write = write;
    console.error = error;
  }
}

Deno.test("renderCommand: store and cni-config output, --node filter, refusal on errors", async () => {
  const store = await captured(() => renderCommand(["@default", "--to", "store", "--node", "node02"]));
  assert.equal(store.code, 0);
  const keys = Object.keys(JSON.parse(store.out));
  assert.ok(
    keys.includes("/ratchet/pods/default/right-pod") && keys.includes("/ratchet/pods/default/lone-pod"),
  );
  assert.ok(!keys.includes("/ratchet/pods/default/primary-pod"), "node01's pods are filtered out");
  assert.ok(
    keys.includes("/ratchet/links/default.left-pod.in1--default.right-pod.in1"),
    "a link with an end on node02",
  );
  assert.ok(!keys.some((k) => k.includes("primary-pod.in1")));
  const cni = await captured(() => renderCommand(["pod_specs/lab.topo", "--to", "cni-config"]));
  assert.equal(cni.code, 0);
  const conf = JSON.parse(cni.out);
  assert.deepEqual(Object.keys(conf), ["node01", "node02", "node03"]);
  assert.equal(conf.node01["01-ratchet.conf"].type, "ratchet");
  assert.equal(conf.node01["01-ratchet.conf"].parent_address, "192.168.1.224");
  assert.equal(conf.node03["01-ratchet.conf"].parent_address, undefined, "taken from the parent at run time");
  assert.deepEqual(conf.node01["01-ratchet.conf"].boot_network, { type: "loopback" });
  assert.deepEqual(conf.node03["10-anchor.conf"].octopus, { "10.0.2.0/24": "eth1.2" });
  assert.deepEqual(conf.node03["10-anchor.conf"].ipam, { type: "anchor" });
  assert.equal(
    (await captured(() => renderCommand(["@default", "--to", "store", "--node", "node09"]))).code,
    2,
  );
  assert.equal((await captured(() => renderCommand(["@default", "--to", "png"]))).code, 2);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.topo`, "pod a node nowhere\n");
    const bad = await captured(() => renderCommand([`${dir}/bad.topo`, "--to", "store"]));
    assert.deepEqual([bad.code, bad.out], [1, ""]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
