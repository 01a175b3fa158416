/**
 * ratchet beyond a plain pair, on both stores: the delegate for ineligible pods, an eligible pod
 * with only its boot network, labels from a real HTTPS Kubernetes API, a topology applied with
 * `ratchet apply` (several links per pod, IPv6, a link without addresses, node defaults from the
 * store), the original sample config, CHECK finding a removed end, and invalid labels.
 */
import assert from "node:assert/strict";
import { withKubeApi } from "./lib/kube_api.ts";
import { ipJson, nsExec, run } from "./lib/netns.ts";
import { binDir } from "./lib/plugin.ts";
import {
  eventually,
  type LabPod,
  linkLabels,
  onEachStore,
  sampleLabels,
  waiterPids,
} from "./lib/ratchet_lab.ts";

function names(result: { interfaces?: { name: string }[] }): string[] {
  return (result.interfaces ?? []).map((i) => i.name);
}

/** `ratchet ARGS...` as a person runs it; `out` is stdout then stderr. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const r = await run(`${binDir()}/ratchet`, ...args);
  return { code: r.code, out: r.stdout + r.stderr };
}

onEachStore("ratchet cases", async ({ step, etcd }) => {
  await step(
    "an ineligible pod goes to the delegate (Debian's bridge with host-local, in the node)",
    async (lab, [n1]) => {
      const [p] = await lab.addPods(["plain"]);
      const r = await lab.add(n1, p);
      assert.deepEqual(
        names(r).filter((n) => n === "cni-rt0" || n === "eth0"),
        ["cni-rt0", "eth0"],
        JSON.stringify(r),
      );
      const ip = r.ips[0].address as string;
      assert.match(ip, /^10\.99\.0\.\d+\/24$/);
      assert.deepEqual(await lab.addrs(p, "eth0"), [ip]);
      assert.equal(
        (await ipJson(n1.ns, "link", "show", "cni-rt0"))[0].ifname,
        "cni-rt0",
        "the bridge is in the node, not the host",
      );
      assert.equal(lab.waiters().length, 0, "no waiter for a delegated pod");
      assert.equal((await lab.call("CHECK", n1, p, { ...lab.conf(n1), prevResult: r })).code, 0);
      const lease = `${lab.tmp}/host-local/ratchet-lab/${ip.split("/")[0]}`;
      assert.ok(Deno.statSync(lease).isFile);
      await lab.del(n1, p);
      await lab.del(n1, p);
      assert.equal(await lab.link(p, "eth0"), undefined, "the delegate's DEL ran");
      assert.throws(() => Deno.statSync(lease), "host-local released the address");
    },
  );

  await step(
    "an eligible pod with no links gets its loopback boot network and the node's waiter; DEL drops its work",
    async (lab, [n1]) => {
      const [p] = await lab.addPods(["lonely"]);
      await lab.setPodMeta(p, n1, { ratchet: "true" });
      const r = await lab.add(n1, p);
      assert.deepEqual(names(r), ["lo"]);
      assert.deepEqual(r.ips.map((i: { address: string }) => i.address), ["127.0.0.1/8", "::1/128"]);
      assert.equal((await ipJson(p.ns, "link", "show", "lo"))[0].operstate, "UNKNOWN");
      const [pid] = lab.waiters();
      assert.ok(pid, "the node's waiter waits for the pod to learn a link from a peer");
      const sid = Number(Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ")[3]);
      assert.equal(sid, pid, "the waiter leads its own session");
      assert.deepEqual(await lab.keys(`/ratchet/wait/${n1.name}/`), [
        `/ratchet/wait/${n1.name}/${p.containerId}`,
      ]);
      assert.equal(JSON.parse((await lab.store.get(`/ratchet/waiter/${n1.name}`))!.value).pid, pid);
      await lab.del(n1, p);
      assert.deepEqual(await lab.keys(`/ratchet/wait/${n1.name}/`), [], "DEL dropped its waiting work");
    },
  );

  await step(
    "a link whose peer never comes is `timed out` at child_timeout_s: record, CHECK and log say so; the waiter exits",
    async (lab, [n1]) => {
      // b is never heard of: no metadata, no ADD.
      const [a, b] = await lab.addPods(["wa", "wb"]);
      await lab.setPodMeta(a, n1, linkLabels(b));
      const conf = lab.conf(n1, { child_timeout_s: 2 });
      const ra = await lab.add(n1, a, conf);
      // The waiter may still be exec'ing, when its /proc cmdline can read empty (ratchet_links_test).
      assert.ok(await eventually(() => lab.waiters().length === 1, 5_000));
      const waitKey = `/ratchet/wait/${n1.name}/${a.containerId}`;
      const troubles = async () => JSON.parse((await lab.store.get(waitKey))?.value ?? "{}").links;
      assert.ok(await eventually(async () => (await troubles()) !== undefined, 10_000), lab.log());
      const [[id, t]] = Object.entries(await troubles()) as [string, { status: string; reason: string }][];
      assert.match(id, /in1/);
      assert.equal(t.status, "timed out");
      assert.match(t.reason, new RegExp(`pod default/${b.name} did not arrive`));
      assert.match(lab.log(50), /"role":"ratchet-child".*link .*in1.* timed out: pod .* did not arrive/);
      const chk = await lab.call("CHECK", n1, a, { ...conf, prevResult: ra });
      assert.equal(chk.json?.code, 105, chk.stdout);
      assert.match(chk.json.msg, /timed out/);
      assert.ok(await eventually(() => lab.waiters().length === 0, 10_000), "the waiter exits when idle");
      await lab.del(n1, a, conf);
    },
  );

  await withKubeApi((api) =>
    step(
      "labels from the Kubernetes API, the node from kubernetes.node_name; unlabelled pods go to the delegate",
      async (lab, [n1, n2]) => {
        lab.forward(Number(new URL(api.url).port));
        const [a, b, c] = await lab.addPods(["ka", "kb", "kc"]);
        api.setPod({
          namespace: "default",
          name: a.name,
          nodeName: n1.name,
          labels: linkLabels(b, "10.3.0"),
        });
        api.setPod({
          namespace: "default",
          name: b.name,
          nodeName: n2.name,
          labels: { ratchet: "true" },
        });
        api.setPod({ namespace: "default", name: c.name, nodeName: n1.name, labels: { app: "web" } });
        const conf = (n: typeof n1) =>
          lab.conf(n, { kubernetes: { kubeconfig: api.kubeconfigPath, node_name: n.name } });
        await lab.add(n1, a, conf(n1));
        await lab.add(n2, b, conf(n2));
        assert.ok(await eventually(() => lab.ping(a, "10.3.0.2", 1)), lab.log());
        assert.equal(
          (await lab.link(b, "in2")).linkinfo.info_kind,
          "vxlan",
          "kubernetes.node_name put them on different nodes",
        );
        const rc = await lab.add(n1, c, conf(n1));
        assert.ok(names(rc).includes("eth0"), "no ratchet label: the delegate");
        assert.ok(
          api.requests.some((q) =>
            q.path === `/api/v1/namespaces/default/pods/${a.name}` && q.auth === "token"
          ),
        );
        api.deletePod("default", a.name);
        await lab.del(n1, a, conf(n1));
        await lab.del(n2, b, conf(n2));
        await lab.del(n1, c, conf(n1));
        assert.equal(await lab.link(c, "eth0"), undefined, "DEL used the recorded delegate");
      },
    )
  );

  await withKubeApi((api) =>
    step(
      "one node identity for ADD and GC: kubernetes.node_name, else the host name, whatever spec.nodeName says",
      async (lab, [n1]) => {
        lab.forward(Number(new URL(api.url).port));
        const [p, q] = await lab.addPods(["na", "nb"]);
        const fqdn = `${n1.name}.lab.example.org`;
        assert.notEqual(fqdn, Deno.hostname());
        for (const pod of [p, q]) {
          api.setPod({ namespace: "default", name: pod.name, nodeName: fqdn, labels: { ratchet: "true" } });
        }
        const base = {
          ...lab.conf(n1),
          cniVersion: "1.1.0",
          boot_network: { type: "loopback", cniVersion: "1.0.0" },
        };
        const delegate = { ...lab.conf(n1).delegate as object, cniVersion: "1.0.0" };
        // p: this node named by kubernetes.node_name, which differs from the host name.
        const named = { ...base, delegate, kubernetes: { kubeconfig: api.kubeconfigPath, node_name: fqdn } };
        // q: no kubernetes.node_name: the host name, although the API says the pod is on `fqdn`.
        const unnamed = { ...base, delegate, kubernetes: { kubeconfig: api.kubeconfigPath } };
        await lab.add(n1, p, named);
        await lab.add(n1, q, unnamed);
        const node = async (pod: typeof p) =>
          JSON.parse((await lab.store.get(`/ratchet/containers/${pod.containerId}`))!.value).node;
        assert.equal(await node(p), fqdn);
        assert.equal(await node(q), Deno.hostname());
        assert.match(lab.log(100), /spec.nodeName is not this node's name/);
        for (const conf of [named, unnamed]) {
          const r = await lab.call("GC", n1, p, {
            ...conf,
            gc_grace_seconds: 0,
            "cni.dev/valid-attachments": [],
          });
          assert.equal(r.code, 0, r.stdout);
        }
        assert.deepEqual(await lab.keys("/ratchet/containers/"), [], "GC found both on this node");
        assert.deepEqual(await lab.keys(`/ratchet/wait/`), [], "GC dropped their waiting work");
        assert.ok(await eventually(() => waiterPids([fqdn, Deno.hostname()]).length === 0, 10_000));
      },
    )
  );

  await step(
    "a topology applied with `ratchet apply`: several links per pod, IPv6, a link without addresses",
    async (lab, [n1, n2]) => {
      const [r1, r2, r3] = await lab.addPods(["r1", "r2", "r3"]);
      r3.namespace = "lab-ns";
      const topo = [
        `node ${n1.name} parent eth0 address ${n1.address}`,
        `node ${n2.name} parent eth0          # no address: read from eth0 at run time`,
        `pod ${r1.name} node ${n1.name}`,
        `pod ${r2.name} node ${n1.name}`,
        `pod ${r3.name} node ${n2.name} namespace lab-ns`,
        `link ${r1.name}:e1 fd00:10::1/64 -- ${r2.name}:e1 fd00:10::2/64 mtu 1400`,
        `link ${r1.name}:e2 10.10.1.1/30 -- ${r3.name}:e2 10.10.1.2/30`,
        `link ${r1.name}:e3 -- ${r3.name}:e3`,
      ].join("\n") + "\n";
      const file = `${lab.tmp}/lab.topo`;
      Deno.writeTextFileSync(file, topo);
      const storeFlags = etcd
        ? ["--etcd-endpoints", etcd.endpoint]
        : ["--store", (lab.storeAt as { dir: string }).dir];
      assert.equal((await cli(["lint", file])).code, 0);
      const applied = await cli(["apply", file, ...storeFlags]);
      assert.equal(applied.code, 0, applied.out);
      const status = await cli(["status", file, ...storeFlags]);
      assert.equal(status.code, 0, status.out);
      const rendered = await cli(["render", file, "--to", "store"]);
      assert.equal(rendered.code, 0, rendered.out);
      assert.ok(JSON.parse(rendered.out)[`/ratchet/pods/lab-ns/${r3.name}`]);
      // The nodes' defaults come from the store: no parent fields in the config.
      const conf = (n: typeof n1) => ({
        ...lab.conf(n),
        parent_interface: undefined,
        parent_address: undefined,
      });
      const [x1, x2, x3] = await Promise.all([
        lab.add(n1, r1, conf(n1)),
        lab.add(n1, r2, conf(n1)),
        lab.add(n2, r3, conf(n2)),
      ]);
      assert.ok([x1, x2, x3].every((x) => names(x)[0] === "lo"));
      const ready = async () =>
        (await Promise.all(["e1", "e2", "e3"].map((i) => lab.link(r1, i)))).every(Boolean);
      assert.ok(await eventually(ready), lab.log());
      assert.equal((await lab.link(r1, "e1")).linkinfo.info_kind, "veth");
      assert.equal((await lab.link(r1, "e1")).mtu, 1400);
      assert.deepEqual(await lab.addrs(r2, "e1"), ["fd00:10::2/64"]);
      const e2 = (await lab.link(r1, "e2")).linkinfo.info_data,
        e3 = (await lab.link(r1, "e3")).linkinfo.info_data;
      assert.equal(e2.remote, n2.address, "node2's address was read from its eth0");
      assert.notEqual(e2.id, e3.id, "two links between the same nodes never share a VNI");
      assert.deepEqual(await lab.addrs(r1, "e3"), [], "a link end without an address");
      assert.deepEqual(await lab.addrs(r3, "e3"), []);
      assert.ok(await eventually(() => lab.ping(r1, "fd00:10::2", 1)), "ping over IPv6");
      assert.ok(await eventually(() => lab.ping(r1, "10.10.1.2", 1)), "ping across nodes");
      // Once the children are done nothing repairs behind CHECK's back.
      assert.ok(await eventually(() => lab.waiters().length === 0));
      await nsExec(r1.ns, "ip", "link", "del", "e2");
      const chk = await lab.call("CHECK", n1, r1, { ...conf(n1), prevResult: x1 });
      assert.equal(chk.code, 1);
      assert.equal(chk.json.code, 105, chk.stdout);
      assert.match(chk.json.msg, /e2/);
      await Promise.all([
        lab.del(n1, r1, conf(n1)),
        lab.del(n1, r2, conf(n1)),
        lab.del(n2, r3, conf(n2)),
      ]);
      await lab.store.txn([], [{ deletePrefix: "/ratchet/nodes/" }, { deletePrefix: "/ratchet/links/" }]);
    },
  );

  if (etcd) {
    await step(
      "the original sample config as it is, pointed at the test etcd by etcd_host/etcd_port",
      async (lab, [n1]) => {
        const [primary, pair] = await lab.addPods(["primary-pod", "pair-pod"]);
        await lab.setPodMeta(
          primary,
          n1,
          linkLabels(pair, undefined, {
            app: "primary-pod",
            ...sampleLabels(primary),
            "ratchet.local_ip": "192.168.2.100",
            "ratchet.pair_ip": "192.168.2.101",
          }),
        );
        await lab.setPodMeta(pair, n1, {
          app: "pair-pod",
          ratchet: "true",
          "ratchet.pod_name": pair.name,
        });
        const sample = JSON.parse(
          Deno.readTextFileSync(new URL("../conf/01-ratchet.conf", import.meta.url)),
        );
        assert.equal(sample.etcd_host, "localhost");
        const conf = { ...sample, etcd_port: new URL(etcd!.endpoint).port };
        const r1 = await lab.add(n1, primary, conf);
        const r2 = await lab.add(n1, pair, conf);
        assert.equal(sample.cniVersion, undefined, "the sample is the original, without cniVersion");
        // No cniVersion is 0.1.0, as libcni reads it: ip4/ip6 hold each family's first address
        // (the boot network's lo comes first), and 0.1.0 results have no interfaces.
        assert.equal(r2.cniVersion, "0.1.0");
        assert.deepEqual([r1.ip4?.ip, r1.ip6?.ip, names(r2)], ["127.0.0.1/8", "::1/128", []]);
        assert.ok(await lab.ping(primary, "192.168.2.101"));
        assert.deepEqual(await lab.addrs(primary, "in1"), ["192.168.2.100/24"]);
        const attach = JSON.parse(
          (await lab.store.get(`/ratchet/attach/default/${primary.name}`))!.value,
        );
        assert.equal(attach.public_ip, "1.1.1.1");
        assert.equal(attach.parent_address, "192.168.1.224");
        await lab.del(n1, primary, conf);
        await lab.del(n1, pair, conf);
      },
    );
  }

  await step(
    "GC releases what DEL would have for containers the runtime forgot, on this network only",
    async (lab, [n1]) => {
      const [a, b] = await lab.addPair(["ga", "gb"], n1, n1, "10.7.0");
      const [c, p] = await lab.addPods(["gc", "gp"]);
      await lab.setPodMeta(c, n1, { ratchet: "true" });
      // Debian's plugins speak CNI 1.0 at most, so GC is not forwarded to them.
      const base = lab.conf(n1);
      const conf = {
        ...base,
        cniVersion: "1.1.0",
        delegate: { ...base.delegate as object, cniVersion: "1.0.0" },
        boot_network: { type: "loopback", cniVersion: "1.0.0" },
      };
      for (const pod of [a, b, c, p]) await lab.add(n1, pod, conf);
      const cWaits = `/ratchet/wait/${n1.name}/${c.containerId}`;
      assert.deepEqual(await lab.keys(cWaits), [cWaits]);
      assert.equal(lab.waiters().length, 1);
      const gc = (network: string, valid: LabPod[]) =>
        lab.call("GC", n1, a, {
          ...conf,
          name: network,
          "cni.dev/valid-attachments": valid.map((x) => ({ containerID: x.containerId, ifname: "eth0" })),
        });
      assert.equal((await gc("another-network", [])).code, 0);
      assert.ok(await lab.link(a, "in1"), "another network's GC touched nothing");
      assert.equal((await gc(String(base.name), [b])).code, 0);
      assert.ok(
        await lab.link(a, "in1"),
        "records younger than gc_grace_seconds (default 300) are never collected",
      );
      assert.deepEqual(await lab.keys(cWaits), [cWaits]);
      const r = await lab.call("GC", n1, a, {
        ...conf,
        gc_grace_seconds: 0,
        "cni.dev/valid-attachments": [{ containerID: b.containerId, ifname: "eth0" }],
      });
      assert.equal(r.code, 0, r.stdout);
      assert.equal(await lab.link(a, "in1"), undefined, "a's link end was released");
      assert.deepEqual(await lab.keys(cWaits), [], "c's waiting work was dropped");
      const left = (await lab.leftovers()).filter((k) => !k.startsWith("/ratchet/waiter/"));
      assert.ok(left.every((k) => k.includes(b.containerId) || k.includes(b.name)), JSON.stringify(left));
      assert.ok(
        left.includes(`/ratchet/containers/${b.containerId}`),
        "the live container keeps its records",
      );
      await lab.del(n1, b, conf);
      await lab.del(n1, p, conf);
    },
  );

  await step(
    "a link end named like an interface the pod has fails ADD with EEXIST (101), boot network rolled back",
    async (lab, [n1]) => {
      const [by, pa, pb] = await lab.addPods(["by", "pa", "pb"]);
      const ipamDir = `${lab.tmp}/boot-ipam`;
      const conf = lab.conf(n1, {
        boot_network: {
          type: "bridge",
          bridge: "cni-bt0",
          ipam: { type: "host-local", subnet: "10.98.0.0/24", dataDir: ipamDir },
        },
      });
      const pair = (peer: typeof pa, ip: string, peerIp: string, primary: boolean) => ({
        ratchet: "true",
        "ratchet.local_ifname": "eth0",
        "ratchet.local_ip": ip,
        "ratchet.pair_name": peer.name,
        "ratchet.pair_ip": peerIp,
        "ratchet.pair_ifname": "eth0",
        ...(primary ? { "ratchet.primary": "true" } : {}),
      });
      await lab.setPodMeta(by, n1, { ratchet: "true" });
      await lab.setPodMeta(pa, n1, pair(pb, "10.79.0.1", "10.79.0.2", true));
      await lab.setPodMeta(pb, n1, pair(pa, "10.79.0.2", "10.79.0.1", false));
      await lab.add(n1, by, conf);
      const leases = () =>
        [...Deno.readDirSync(`${ipamDir}/ratchet-lab`)].map((e) => e.name).filter((n) =>
          /^\d+\.\d+\.\d+\.\d+$/.test(n)
        ).sort();
      const ports = async () =>
        (await ipJson(n1.ns, "link", "show", "master", "cni-bt0")).map((l: { ifname: string }) => l.ifname)
          .sort();
      const before = { leases: leases(), ports: await ports() };
      assert.equal(before.leases.length, 1);
      assert.equal(before.ports.length, 1);
      for (const pod of [pa, pb]) {
        const r = await lab.call("ADD", n1, pod, conf);
        assert.equal(r.code, 1, r.stdout);
        assert.equal(r.json.code, 101, r.stdout);
        assert.equal(r.json.details, "EEXIST", r.stdout);
        assert.match(r.json.msg, /eth0/);
        assert.equal(await lab.link(pod, "eth0"), undefined, "the eth0 this ADD's boot network made is gone");
        assert.deepEqual(leases(), before.leases, "host-local holds no address for it");
        assert.deepEqual(await ports(), before.ports, "the bridge keeps the other pod's port");
      }
      assert.ok(await lab.link(by, "eth0"), "the bystander keeps its eth0");
      await lab.del(n1, by, conf);
    },
  );

  await step(
    "a retried ADD that fails undoes only its own work: the live ADD's link, records and waiting work stay",
    async (lab, [n1]) => {
      const [r, s, w] = await lab.addPods(["ra", "rs", "rw"]);
      const link = (ifname: string, peer: typeof r, ip: string, peerIp: string) => ({
        ifname,
        ip,
        peer: { pod: peer.name, namespace: "default", ifname, ip: peerIp },
        primary: true,
      });
      const links = [
        link("in1", s, "10.6.0.1/24", "10.6.0.2/24"),
        link("in4", w, "10.6.1.1/24", "10.6.1.2/24"),
      ];
      const annotate = (l: unknown[]) =>
        lab.setPodMeta(r, n1, { ratchet: "true" }, { "ratchet.cni/links": JSON.stringify(l) });
      await annotate(links);
      await lab.setPodMeta(s, n1, { ratchet: "true" });
      await lab.add(n1, r);
      await lab.add(n1, s);
      assert.ok(await lab.ping(r, "10.6.0.2"), lab.log());
      assert.equal(lab.waiters().length, 1, "the waiter waits for w on r's behalf");
      const records = async () =>
        (await lab.store.list("/ratchet/")).filter((kv) => !kv.key.startsWith("/ratchet/pods/"))
          .map((kv) => `${kv.key}=${kv.value}`).filter((t) => !t.includes('"at":')).sort();
      const before = await records();
      // Something not ours takes a name a new link of r wants; the runtime retries r's ADD.
      await nsExec(r.ns, "ip", "link", "add", "in3", "type", "veth", "peer", "name", "x3");
      await annotate([...links, link("in3", s, "10.6.2.1/24", "10.6.2.2/24")]);
      const retry = await lab.call("ADD", n1, r, lab.conf(n1));
      assert.equal(retry.json?.code, 101, retry.stdout);
      assert.equal(retry.json.details, "EEXIST");
      assert.equal((await lab.link(r, "in3"))?.linkinfo?.info_kind, "veth", "the foreign in3 is untouched");
      assert.ok(await lab.ping(r, "10.6.0.2"), "the live ADD's link still works");
      assert.deepEqual(await records(), before, "the live ADD's records are as they were");
      assert.equal(lab.waiters().length, 1, "the waiter still waits");
      await annotate(links);
      await lab.del(n1, r);
      await lab.del(n1, s);
      assert.equal((await lab.link(r, "in3"))?.linkinfo?.info_kind, "veth", "DEL left the foreign in3 alone");
    },
  );

  await step(
    "invalid link labels fail ADD with code 7 naming the label, and leave nothing",
    async (lab, [n1]) => {
      const [p] = await lab.addPods(["bad"]);
      await lab.setPodMeta(p, n1, {
        ratchet: "true",
        "ratchet.local_ifname": "in1",
        "ratchet.pair_name": "x",
        "ratchet.pair_ifname": "in2",
        "ratchet.local_ip": "10.0.0.300",
      });
      const r = await lab.call("ADD", n1, p, lab.conf(n1));
      assert.equal(r.code, 1);
      assert.equal(r.json.code, 7);
      assert.match(r.json.details, /ratchet\.local_ip/);
    },
  );
});
