/**
 * anchor reading pods from a real local HTTPS Kubernetes API (tests/lib/kube_api.ts), on both stores,
 * and the original 10-anchor.conf, unchanged in shape, against a TLS etcd that wants client certificates.
 */
import assert from "node:assert/strict";
import {
  anchorCli,
  anchorConf,
  callAnchor,
  openAnchorStore,
  records,
  seed,
  STORE_KINDS,
} from "./lib/anchor_fixture.ts";
import { startEtcd, type TestEtcd } from "./lib/etcd.ts";
import { closedPortUrl, startKubeApi } from "./lib/kube_api.ts";
import { TempNetns } from "./lib/netns.ts";

const POOLS = {
  "/anchor/ns/prod": "10.0.1.[10-19]",
  "/anchor/ns/other": "10.0.2.[10-19]",
  "/anchor/gw/10.0.1.0/24": "10.0.1.1",
  "/anchor/gw/10.0.2.0/24": "10.0.2.1",
};

for (const kind of STORE_KINDS) {
  Deno.test(`anchor takes annotations and the controller from the Kubernetes API (${kind} store)`, async (t) => {
    const s = await openAnchorStore(kind);
    const api = await startKubeApi();
    const ns = await TempNetns.create(["anchor"]);
    const netns = ns.path(0);
    const kube = { kubernetes: { kubeconfig: api.kubeconfigPath, node_name: "node01" } };
    const add = (id: string, pod: string, o: Parameters<typeof anchorConf>[1] = {}, podNs = "prod") =>
      callAnchor({
        command: "ADD",
        id,
        netns,
        conf: anchorConf(s, { ipam: kube, ...o }),
        cniArgs:
          `IgnoreUnknown=1;K8S_POD_NAMESPACE=${podNs};K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${id}`,
      });
    const step = async (name: string, fn: () => Promise<void>) => {
      assert.ok(
        await t.step(name, async () => {
          await s.wipe();
          await seed(s.store, POOLS);
          await fn();
        }),
      );
    };
    try {
      api.setReplicaSet({
        namespace: "prod",
        name: "web-5d4f8b",
        owner: { kind: "Deployment", name: "web" },
      });
      api.setPod({
        namespace: "prod",
        name: "web-5d4f8b-x2k9q",
        labels: { app: "web" },
        annotations: {
          "cni.anchor.org/subnet": "10.0.1.0/24",
          "cni.anchor.org/routes": "10.88.0.0/16,10.0.1.5",
        },
        owner: { kind: "ReplicaSet", name: "web-5d4f8b" },
      });
      api.setPod({
        namespace: "prod",
        name: "db-0",
        annotations: { "cni.anchor.org/subnet": "10.0.1.0/24", "cni.anchor.org/gateway": "10.0.1.254" },
        owner: { kind: "StatefulSet", name: "db" },
      });
      api.setPod({
        namespace: "prod",
        name: "bare",
        annotations: { "cni.anchor.org/subnet": "10.0.1.0/24" },
      });
      api.setPod({ namespace: "prod", name: "nosubnet", annotations: { unrelated: "x" } });

      await step(
        "the pod's annotations place it, and a ReplicaSet's pod records its Deployment",
        async () => {
          const r = await add("w1", "web-5d4f8b-x2k9q");
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.deepEqual(r.json.ips, [{ address: "10.0.1.10/24", gateway: "10.0.1.1" }]);
          assert.deepEqual(r.json.routes, [{ dst: "0.0.0.0/0", gw: "10.0.1.1" }, {
            dst: "10.88.0.0/16",
            gw: "10.0.1.5",
          }]);
          assert.deepEqual((await records(s.store)).get("w1")!.slice(0, 7), [
            "10.0.1.10",
            "web-5d4f8b-x2k9q",
            "prod",
            "web",
            "eth0",
            "node01",
            "anchornet",
          ]);
          // It asked the API for the pod and for the ReplicaSet, authenticated by the kubeconfig's token.
          const asked = api.requests.filter((q) => q.path.includes("web-5d4f8b"));
          assert.deepEqual(asked.map((q) => [q.path, q.auth]), [
            ["/api/v1/namespaces/prod/pods/web-5d4f8b-x2k9q", "token"],
            ["/apis/apps/v1/namespaces/prod/replicasets/web-5d4f8b", "token"],
          ]);
        },
      );

      await step(
        "other controllers are recorded by name; no controller is 'unknown'; the gateway annotation works",
        async () => {
          const db = await add("d1", "db-0");
          assert.deepEqual(db.json.ips, [{ address: "10.0.1.10/24", gateway: "10.0.1.254" }]);
          await add("b1", "bare");
          const recs = await records(s.store);
          assert.equal(recs.get("d1")![3], "db");
          assert.equal(recs.get("b1")![3], "unknown");
        },
      );

      await step("the config's args.cni and runtimeConfig keys win over the pod's annotations", async () => {
        const viaArgs = await add("a1", "web-5d4f8b-x2k9q", {
          args: { "cni.anchor.org/subnet": "10.0.2.0/24" },
        }, "prod");
        // The pool is still the namespace's (prod: 10.0.1.x), none of which is in 10.0.2.0/24.
        assert.equal(viaArgs.json.code, 102, viaArgs.stdout);
        const other = await add("a2", "web-5d4f8b-x2k9q", {
          args: { "cni.anchor.org/subnet": "10.0.1.0/24" },
          top: { runtimeConfig: { "cni.anchor.org/gateway": "10.0.1.9" } },
        });
        assert.deepEqual(other.json.ips, [{ address: "10.0.1.10/24", gateway: "10.0.1.9" }]);
      });

      await step(
        "annotations the runtime passes replace the API: no GET; config keys still win",
        async () => {
          const before = api.requests.length;
          const ann = { "cni.anchor.org/subnet": "10.0.1.0/24", "cni.anchor.org/gateway": "10.0.1.7" };
          // "ghost" is unknown to the API: a GET would make this ADD fail with 103.
          const r = await add("r1", "ghost", {
            top: { runtimeConfig: { "io.kubernetes.cri.pod-annotations": ann } },
          });
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.deepEqual(r.json.ips, [{ address: "10.0.1.10/24", gateway: "10.0.1.7" }]);
          assert.equal(
            (await records(s.store)).get("r1")![3],
            "unknown",
            "only the API knows the controller",
          );
          const over = await add("r2", "ghost", {
            top: {
              runtimeConfig: {
                "io.kubernetes.cri.pod-annotations": ann,
                "cni.anchor.org/gateway": "10.0.1.9",
              },
            },
          });
          assert.deepEqual(over.json.ips, [{ address: "10.0.1.11/24", gateway: "10.0.1.9" }]);
          assert.equal(api.requests.length, before, "no request reached the API server");
          const bad = await add("r3", "ghost", {
            top: { runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "cni.anchor.org/subnet": 7 } } },
          });
          assert.equal(bad.json.code, 7, bad.stdout);
          assert.match(bad.json.msg, /io\.kubernetes\.cri\.pod-annotations.*must be a string/);
        },
      );

      await step("the top-level kubernetes block serves when ipam has none", async () => {
        const r = await callAnchor({
          command: "ADD",
          id: "t1",
          netns,
          conf: { ...anchorConf(s), kubernetes: { kubeconfig: api.kubeconfigPath } },
          cniArgs: "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-5d4f8b-x2k9q",
        });
        assert.equal(r.code, 0, r.stdout);
        assert.equal((await records(s.store)).get("t1")![3], "web");
      });

      await step("a pod the API does not know is 103; a pod without the subnet annotation is 7", async () => {
        const missing = await add("m1", "ghost");
        assert.equal(missing.json.code, 103, missing.stdout);
        assert.match(missing.json.msg, /pod prod\/ghost does not exist/);
        const nosub = await add("m2", "nosubnet");
        assert.equal(nosub.json.code, 7);
        assert.match(nosub.json.msg, /pod prod\/nosubnet has no annotation cni\.anchor\.org\/subnet/);
        assert.equal((await records(s.store)).size, 0);
      });

      await step("an unreachable API is 11; a token it refuses is an error naming the 403", async () => {
        const down = await add("u1", "bare", {
          ipam: { policy: { k8s_api_root: closedPortUrl(), k8s_auth_token: "t" } },
        });
        assert.equal(down.json.code, 11, down.stdout);
        const refused = await add("u2", "bare", {
          ipam: {
            kubernetes: { kubeconfig: api.kubeconfigPath },
            policy: { k8s_auth_token: api.forbiddenToken },
          },
        });
        assert.equal(refused.code, 1);
        assert.match(refused.json.msg, /403/);
        assert.equal((await records(s.store)).size, 0);
      });

      await step("DEL works after the pod is deleted and with the API unreachable", async () => {
        assert.equal((await add("gone", "bare")).code, 0);
        api.deletePod("prod", "bare");
        const del = await callAnchor({
          command: "DEL",
          id: "gone",
          netns,
          conf: anchorConf(s, { ipam: { policy: { k8s_api_root: closedPortUrl(), k8s_auth_token: "t" } } }),
          cniArgs: "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=bare",
        });
        assert.equal(del.code, 0, del.stdout);
        assert.equal((await records(s.store)).size, 0);
        api.setPod({
          namespace: "prod",
          name: "bare",
          annotations: { "cni.anchor.org/subnet": "10.0.1.0/24" },
        });
      });
    } finally {
      await ns.cleanup();
      await api.close();
      await s.close();
    }
  });
}

Deno.test("the original 10-anchor.conf works unchanged: TLS etcd with client certificates, kubeconfig and policy", async () => {
  const api = await startKubeApi();
  const ns = await TempNetns.create(["anchor"]);
  let etcd: TestEtcd | undefined;
  try {
    etcd = await startEtcd({ tls: true });
    const tls = etcd.tls!;
    api.setPod({
      namespace: "default",
      name: "nginx-0",
      annotations: { "cni.anchor.org/subnet": "192.168.100.0/24" },
      owner: { kind: "StatefulSet", name: "nginx" },
    });
    const kubernetes = { kubeconfig: api.kubeconfigPath };
    const policy = { type: "k8s", k8s_api_root: api.url, k8s_auth_token: api.token };
    const conf = {
      name: "anchor",
      cniVersion: "0.3.1",
      type: "octopus",
      octopus: { "192.168.0.0/16": "ens192" },
      kubernetes,
      policy,
      ipam: {
        type: "anchor",
        etcd_endpoints: etcd.endpoint,
        etcd_key_file: tls.keyFile,
        etcd_cert_file: tls.certFile,
        etcd_ca_cert_file: tls.caFile,
        service_ipnet: "10.96.0.0/12",
        node_ips: ["192.168.100.86"],
        kubernetes,
        policy,
      },
    };
    // Seed through the CLI with the same TLS flags an operator would use.
    const flags = [
      "--etcd-endpoints",
      etcd.endpoint,
      "--etcd-cert-file",
      tls.certFile,
      "--etcd-key-file",
      tls.keyFile,
      "--etcd-ca-cert-file",
      tls.caFile,
    ];
    assert.equal((await anchorCli(["pool", "set", "default", "192.168.100.[100-120]", ...flags])).code, 0);
    assert.equal((await anchorCli(["gw", "set", "192.168.100.0/24", "192.168.100.1", ...flags])).code, 0);
    const cniArgs =
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx-0;K8S_POD_INFRA_CONTAINER_ID=abc";
    const r = await callAnchor({ command: "ADD", id: "abc", netns: ns.path(0), conf, cniArgs });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(r.json, {
      cniVersion: "0.3.1",
      ips: [{ version: "4", address: "192.168.100.100/24", gateway: "192.168.100.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "192.168.100.1" }, { dst: "10.96.0.0/12", gw: "192.168.100.86" }],
    });
    const ls = await anchorCli(["ls", "--json", ...flags]);
    assert.deepEqual(
      JSON.parse(ls.stdout).map((
        a: Record<string, string>,
      ) => [a.containerId, a.ip, a.podName, a.controller]),
      [["abc", "192.168.100.100", "nginx-0", "nginx"]],
    );
    assert.equal((await callAnchor({ command: "DEL", id: "abc", netns: ns.path(0), conf, cniArgs })).code, 0);
    assert.deepEqual(JSON.parse((await anchorCli(["ls", "--json", ...flags])).stdout), []);
    // Without the client certificate the store refuses: the TLS fields are really in use.
    const noCert = { ...conf, ipam: { ...conf.ipam, etcd_key_file: "", etcd_cert_file: "" } };
    const refused = await callAnchor({ command: "DEL", id: "abc", netns: ns.path(0), conf: noCert, cniArgs });
    assert.notEqual(refused.code, 0, refused.stdout);
  } finally {
    await etcd?.stop();
    await ns.cleanup();
    await api.close();
  }
});
