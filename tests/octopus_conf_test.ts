/**
 * The sample configs in conf/ are valid for the plugins that read them, the DaemonSet manifest has
 * what a cluster needs, and the original anchor's 10-anchor.conf works as it is: same fields, only
 * the addresses changed to the lab's, against real etcd (TLS) and a real HTTPS API server.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { loadAnchorConf } from "../mod/anchor/config.ts";
import type { CniEnv, NetConf } from "../mod/cni/mod.ts";
import { loadOctopusConf } from "../mod/octopus/mod.ts";
import { loadRatchetConf } from "../mod/ratchet/conf.ts";
import { openStore } from "../mod/store/mod.ts";
import { startEtcd, type TestEtcd } from "./lib/etcd.ts";
import { startKubeApi } from "./lib/kube_api.ts";
import { ipJson, sh } from "./lib/netns.ts";
import { relayIntoNetns } from "./lib/netns_relay.ts";
import { OctopusLab } from "./lib/octopus_lab.ts";

const CONF = new URL("../conf/", import.meta.url).pathname;
const ENV: CniEnv = {
  command: "ADD",
  containerId: "x",
  netns: "/run/netns/x",
  ifname: "eth0",
  args: new Map(),
  path: [],
};

function readConf(name: string): Record<string, any> {
  return JSON.parse(Deno.readTextFileSync(CONF + name));
}

Deno.test("every sample config in conf/ loads in the plugin it is for", () => {
  const names = [...Deno.readDirSync(CONF)].map((e) => e.name).filter((n) => /\.(conf|conflist)$/.test(n))
    .sort();
  assert.deepEqual(names, [
    "01-ratchet.conf",
    "10-anchor-original.conf",
    "10-anchor.conflist",
    "10-octopus-host-local.conf",
    "10-ratchet.conflist",
    "anchor-etcd.conf",
  ]);
  // The originals stay as they were; every other sample is for Kubernetes, where containerd and CRI-O
  // pass pod annotations to a plugin that declares the capability.
  const originals = ["01-ratchet.conf", "10-anchor-original.conf"];
  for (const name of names) {
    const raw = readConf(name);
    const plugins = raw.plugins
      ? raw.plugins.map((p: any) => ({ cniVersion: raw.cniVersion, name: raw.name, ...p }))
      : [raw];
    for (const p of plugins as NetConf[]) {
      if (p.type === "octopus") {
        const conf = loadOctopusConf(p);
        assert.ok(conf.masters.length > 0, name);
      }
      if (p.ipam?.type === "anchor") assert.ok(loadAnchorConf(p, ENV).store, name);
      if (p.type === "ratchet") {
        const conf = loadRatchetConf(p);
        // containerd demands an interface named CNI_IFNAME in the result; loopback makes none.
        if (!originals.includes(name)) assert.notEqual(conf.bootNetwork?.type, "loopback", name);
      }
      if (["octopus", "ratchet", "macvlan"].includes(p.type) && !originals.includes(name)) {
        assert.equal((p.capabilities as any)?.["io.kubernetes.cri.pod-annotations"], true, name);
      }
    }
  }
  assert.equal(readConf("01-ratchet.conf").type, "ratchet");
  assert.equal(loadOctopusConf(readConf("10-anchor-original.conf") as NetConf).masters[0].master, "ens192");
});

Deno.test("the DaemonSet manifest: RBAC for pods, nodes and replicasets, NODE_NAME from the downward API, host paths", () => {
  const docs = parseAllDocuments(Deno.readTextFileSync(CONF + "anchor-daemonset.yaml")).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS();
  });
  const kinds = docs.map((d) => d.kind);
  for (const k of ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"]) {
    assert.ok(kinds.includes(k), k);
  }
  const role = docs.find((d) => d.kind === "ClusterRole");
  const rules = role.rules.flatMap((r: any) =>
    r.resources.map((res: string) => `${r.apiGroups[0]}/${res}:${r.verbs.join(",")}`)
  );
  assert.deepEqual(rules.sort(), ["/nodes:get", "/pods:get", "apps/replicasets:get"]);
  const ds = docs.find((d) => d.kind === "DaemonSet");
  assert.equal(ds.apiVersion, "apps/v1");
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.serviceAccountName, "anchor");
  const [c] = pod.containers;
  assert.deepEqual(c.command.slice(0, 2), ["/usr/local/bin/anchor", "install"]);
  const env = Object.fromEntries(c.env.map((e: any) => [e.name, e]));
  for (
    const v of [
      "NODE_NAME",
      "ETCD_ENDPOINTS",
      "CLUSTER_NETWORK",
      "SERVICE_CLUSTER_IP_RANGE",
      "CREATE_MACVLAN",
      "ETCD_CA",
      "ETCD_CERT",
      "ETCD_KEY",
    ]
  ) {
    assert.ok(env[v], v);
  }
  assert.equal(env.NODE_NAME.valueFrom.fieldRef.fieldPath, "spec.nodeName");
  const hostPaths = pod.volumes.filter((v: any) => v.hostPath).map((v: any) => v.hostPath.path).sort();
  assert.deepEqual(hostPaths, ["/etc/cni/net.d", "/opt/cni/bin", "/var/lib/cni"]);
  const binMount = c.volumeMounts.find((m: any) => m.name === "cni-bin-dir");
  assert.equal(
    binMount.mountPath,
    "/opt/cni/bin",
    "same path inside, so the config's paths are right on the host",
  );
});

Deno.test("the original 10-anchor.conf works as it is: kubeconfig + policy, etcd over TLS, service route via the node", async () => {
  await using lab = await OctopusLab.create(1);
  const etcd = await startEtcd({ tls: true });
  const api = await startKubeApi();
  const relays = [etcd.endpoint, api.url].map((u) =>
    relayIntoNetns(`/run/netns/${lab.node}`, Number(new URL(u).port))
  );
  try {
    await sh("ip", "-n", lab.node, "addr", "add", "10.0.1.8/24", "dev", "eth0.2");
    api.setPod({
      namespace: "shop",
      name: "web-0",
      annotations: { "cni.anchor.org/subnet": "10.0.1.0/24" },
      owner: { kind: "StatefulSet", name: "web" },
    });
    const store = await openEtcdStore(etcd);
    try {
      await store.put("/anchor/ns/shop", "10.0.1.[40-49]");
      await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
    } finally {
      await store.close();
    }

    // Only values change: the lab's subnet and master, this test's etcd, API server and token.
    const conf = readConf("10-anchor-original.conf");
    conf.octopus = { "10.0.1.0/24": "eth0.2" };
    conf.kubernetes.kubeconfig = conf.ipam.kubernetes.kubeconfig = api.kubeconfigPath;
    conf.policy.k8s_api_root = conf.ipam.policy.k8s_api_root = api.url;
    conf.policy.k8s_auth_token = conf.ipam.policy.k8s_auth_token = api.token;
    Object.assign(conf.ipam, {
      etcd_endpoints: etcd.endpoint,
      etcd_key_file: etcd.tls!.keyFile,
      etcd_cert_file: etcd.tls!.certFile,
      etcd_ca_cert_file: etcd.tls!.caFile,
      node_ips: ["10.0.1.8"],
    });
    const args = {
      cniArgs: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0",
      containerId: "orig-1",
    };
    const r = await lab.octopus("ADD", 0, conf, args);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.json.cniVersion, "0.3.1");
    assert.deepEqual(r.json.ips[0], {
      version: "4",
      address: "10.0.1.40/24",
      gateway: "10.0.1.1",
      interface: 0,
    });
    const [link] = await ipJson(lab.pods[0], "-d", "link", "show", "eth0");
    assert.equal(link.link_index, await lab.nodeIfindex("eth0.2"));
    const svc = await ipJson(lab.pods[0], "route", "show", "10.96.0.0/12");
    assert.equal(svc[0]?.gateway, "10.0.1.8", "service range via the node, as the original routed it");
    // octopus (for the master) and anchor (for the pool) read the same pod: one GET between them.
    assert.deepEqual(
      api.requests.filter((q) => q.path.includes("/pods/")).map((q) => [q.path, q.auth]),
      [["/api/v1/namespaces/shop/pods/web-0", "token"]],
    );

    const check = await openEtcdStore(etcd);
    try {
      const kv = await check.list("/anchor/cn/");
      // The original's four fields lead the record; anchor may append its own after them.
      assert.deepEqual(kv.map((k) => k.value.split(",").slice(0, 4).join(",")), ["10.0.1.40,web-0,shop,web"]);
      assert.equal((await lab.octopus("DEL", 0, conf, args)).code, 0);
      assert.deepEqual(await check.list("/anchor/cn/"), []);
    } finally {
      await check.close();
    }
  } finally {
    for (const r of relays) r.close();
    await api.close();
    await etcd.stop();
  }
});

/** The test etcd as the store, over its TLS with the client certificate. */
function openEtcdStore(etcd: TestEtcd) {
  const tls = etcd.tls!;
  return openStore({
    kind: "etcd",
    endpoints: [etcd.endpoint],
    caCertFile: tls.caFile,
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    timeoutMs: 5000,
  });
}
