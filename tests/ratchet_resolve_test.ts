import assert from "node:assert/strict";
import { parsePodLinks } from "../mod/links/mod.ts";
import { loadRatchetConf } from "../mod/ratchet/conf.ts";
import { declarationsOf, linkId, RANK, resolveLinks, topologyDeclaration } from "../mod/ratchet/resolve.ts";
import type { NetConf } from "../mod/cni/mod.ts";

const PRIMARY_LABELS = {
  ratchet: "true",
  "ratchet.pod_name": "primary-pod",
  "ratchet.target_pod": "primary-pod",
  "ratchet.target_container": "primary-pod",
  "ratchet.public_ip": "1.1.1.1",
  "ratchet.local_ip": "192.168.2.100",
  "ratchet.local_ifname": "in1",
  "ratchet.pair_name": "pair-pod",
  "ratchet.pair_ip": "192.168.2.101",
  "ratchet.pair_ifname": "in2",
  "ratchet.primary": "true",
};

Deno.test("resolve: the non-primary pod learns its link from the primary's labels, and both see one id", () => {
  const primary = parsePodLinks({ name: "primary-pod", namespace: "default", labels: PRIMARY_LABELS });
  const pair = parsePodLinks({ name: "pair-pod", namespace: "default", labels: { ratchet: "true" } });
  assert.equal(pair.links.length, 0);
  const decls = [
    ...declarationsOf({ namespace: "default", pod: "primary-pod" }, primary.links),
    ...declarationsOf({ namespace: "default", pod: "pair-pod" }, pair.links),
  ];
  const a = resolveLinks({ namespace: "default", pod: "primary-pod" }, decls);
  const b = resolveLinks({ namespace: "default", pod: "pair-pod" }, decls);
  assert.equal(a.links.length, 1);
  assert.equal(b.links.length, 1);
  assert.equal(a.links[0].id, b.links[0].id);
  assert.equal(a.links[0].id, "default/pair-pod/in2/default/primary-pod/in1");
  assert.deepEqual(b.links[0].local, {
    namespace: "default",
    pod: "pair-pod",
    ifname: "in2",
    ip: "192.168.2.101/24",
  });
  assert.deepEqual(b.links[0].remote, {
    namespace: "default",
    pod: "primary-pod",
    ifname: "in1",
    ip: "192.168.2.100/24",
  });
});

Deno.test("resolve: the better-ranked declaration wins an interface and the loser is reported", () => {
  const self = { namespace: "lab", pod: "a" };
  const mine = declarationsOf(self, [
    {
      ifname: "in1",
      ip: "10.0.0.1/30",
      peer: { pod: "b", namespace: "lab", ifname: "in1", ip: "10.0.0.2/30" },
      primary: false,
    },
  ]);
  const topo = topologyDeclaration({
    id: "x",
    a: { namespace: "lab", pod: "a", ifname: "in1", ip: "10.9.0.1/31" },
    b: { namespace: "lab", pod: "c", ifname: "e1", ip: "10.9.0.0/31" },
    mtu: 1400,
  })!;
  assert.equal(topo.rank, RANK.topology);
  const { links, conflicts } = resolveLinks(self, [...mine, topo]);
  assert.equal(links.length, 1);
  assert.equal(links[0].remote.pod, "c");
  assert.equal(links[0].mtu, 1400);
  assert.equal(links[0].local.ip, "10.9.0.1/31");
  assert.equal(conflicts.length, 1);
  assert.match(conflicts[0], /lab\/a\/in1\/lab\/b\/in1 is ignored/);
});

Deno.test("resolve: several links per pod, IPv6, no address, links to other pods ignored", () => {
  const self = { namespace: "default", pod: "r1" };
  const decls = declarationsOf(self, [
    {
      ifname: "e1",
      ip: "2001:db8::1/64",
      peer: { pod: "r2", namespace: "default", ifname: "e1", ip: "2001:db8::2/64" },
      primary: true,
    },
    { ifname: "e2", peer: { pod: "r3", namespace: "other", ifname: "e9" }, primary: true },
  ]);
  decls.push(...declarationsOf({ namespace: "default", pod: "r2" }, [
    { ifname: "e5", peer: { pod: "r4", namespace: "default", ifname: "e5" }, primary: true },
  ]));
  const { links, conflicts } = resolveLinks(self, decls);
  assert.deepEqual(conflicts, []);
  assert.deepEqual(links.map((l) => l.local.ifname).sort(), ["e1", "e2"]);
  assert.equal(links.find((l) => l.local.ifname === "e2")!.local.ip, undefined);
  assert.equal(linkId(links[0].local, links[0].remote), links[0].id);
});

Deno.test("resolve: a malformed topology record is no declaration", () => {
  assert.equal(topologyDeclaration({ a: { pod: "x" } }), undefined);
  assert.equal(topologyDeclaration(null), undefined);
});

const SAMPLE = {
  name: "ratchet-demo",
  type: "ratchet",
  etcd_host: "localhost",
  etcd_port: "2379",
  child_path: "/opt/cni/bin/ratchet-child",
  parent_interface: "eth0",
  parent_address: "192.168.1.224",
  delegate: { name: "cbr0", type: "flannel", delegate: { isDefaultGateway: true } },
  boot_network: { type: "loopback" },
};

Deno.test("conf: the original sample reads as it is; nested configs inherit cniVersion and name", () => {
  const conf = loadRatchetConf({ cniVersion: "0.3.1", ...SAMPLE } as NetConf);
  assert.deepEqual(conf.store, { kind: "etcd", endpoints: ["http://localhost:2379"], timeoutMs: 2000 });
  assert.equal(conf.childPath, "/opt/cni/bin/ratchet-child");
  assert.equal(conf.parentInterface, "eth0");
  assert.equal(conf.parentAddress, "192.168.1.224");
  assert.equal(conf.delegate.name, "cbr0");
  assert.equal(conf.delegate.cniVersion, "0.3.1");
  assert.deepEqual(conf.bootNetwork, { type: "loopback", cniVersion: "0.3.1", name: "ratchet-demo" });
  assert.equal(conf.childTimeoutMs, 120_000);
});

Deno.test("conf: problems name their field", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ delegate: undefined }, /delegate is required/],
    [{ delegate: { name: "x" } }, /delegate\.type/],
    [{ boot_network: "loopback" }, /boot_network must be/],
    [{ parent_address: "192.168.1" }, /parent_address is not an IP/],
    [{ child_timeout_s: -1 }, /child_timeout_s must be/],
    [{ etcd_port: "99999" }, /etcd_port/],
    [{ store: "/tmp/x" }, /store.*both given|etcd/],
    [{ kubernetes: "yes" }, /kubernetes must be an object/],
  ];
  for (const [patch, re] of bad) {
    assert.throws(
      () => loadRatchetConf({ cniVersion: "1.0.0", ...SAMPLE, ...patch } as NetConf),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, 7, e.message);
        assert.match(e.message, re);
        return true;
      },
    );
  }
  const file = loadRatchetConf(
    { cniVersion: "1.0.0", name: "n", type: "ratchet", delegate: { type: "bridge" } } as NetConf,
  );
  assert.deepEqual(file.store, { kind: "file", dir: "/var/lib/cni/anchor" });
});
