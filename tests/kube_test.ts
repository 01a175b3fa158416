import assert from "node:assert/strict";
import {
  KubeConfigError,
  KubeRequestError,
  kubeSettingsFromConfig,
  openKube,
  podMetadata,
} from "../mod/kube/mod.ts";
import type { KubeSettings, KubeSettingsOptions } from "../mod/kube/mod.ts";
import { ErrorCode, toCniError } from "../mod/cni/errors.ts";
import { closedPortUrl, startSilentServer, withKubeApi, writeKubeconfig } from "./lib/kube_api.ts";

/** No in-cluster service account, whatever the machine running the tests has. */
const NOT_IN_CLUSTER: KubeSettingsOptions = { env: {}, serviceAccountDir: "/nonexistent" };

function settingsOf(conf: Record<string, unknown>, options: KubeSettingsOptions = {}): KubeSettings {
  const s = kubeSettingsFromConfig(conf, { ...NOT_IN_CLUSTER, ...options });
  assert.ok(s, "expected settings");
  return s;
}

async function podVia(settings: KubeSettings, ns: string, name: string) {
  using kube = await openKube(settings);
  return await kube.getPod(ns, name);
}

async function requestError(p: Promise<unknown>): Promise<KubeRequestError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KubeRequestError, `expected KubeRequestError, got ${e}`);
    return e;
  }
  assert.fail("expected the request to fail");
}

Deno.test("kubeconfig: reads a pod's labels, annotations, node and owner", async () => {
  await withKubeApi(async (api) => {
    const labels = { app: "web", "cni.anchor.org/subnet": "10.0.9.0/24" };
    const annotations = {
      "cni.anchor.org/subnet": "10.0.1.0/24",
      "cni.anchor.org/routes": "10.0.5.0/24,10.0.1.1",
    };
    const served = api.setPod({
      namespace: "lab",
      name: "web-0",
      labels,
      annotations,
      nodeName: "node01",
      owner: { kind: "StatefulSet", name: "web" },
    });
    const settings = settingsOf({ kubernetes: { kubeconfig: api.kubeconfigPath, node_name: "node01" } });
    using kube = await openKube(settings);
    assert.equal(kube.server, api.url);
    assert.equal(kube.nodeName, "node01");
    const pod = await kube.getPod("lab", "web-0");
    assert.ok(pod);
    const meta = served.metadata as { uid: string; ownerReferences: { uid: string }[] };
    assert.deepEqual(pod, {
      name: "web-0",
      namespace: "lab",
      uid: meta.uid,
      labels,
      annotations,
      nodeName: "node01",
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        name: "web",
        uid: meta.ownerReferences[0].uid,
        controller: true,
      }],
    });
    // The original merged labels then annotations, so the annotation's subnet wins.
    assert.deepEqual(podMetadata(pod), {
      app: "web",
      "cni.anchor.org/subnet": "10.0.1.0/24",
      "cni.anchor.org/routes": "10.0.5.0/24,10.0.1.1",
    });
    assert.deepEqual(api.requests, [{
      method: "GET",
      path: "/api/v1/namespaces/lab/pods/web-0",
      auth: "token",
    }]);
  });
});

Deno.test("kubeconfig: unscheduled pod without labels has empty maps and no nodeName", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "default", name: "bare" });
    const pod = await podVia(
      settingsOf({ kubernetes: { kubeconfig: api.kubeconfigPath } }),
      "default",
      "bare",
    );
    assert.ok(pod);
    assert.deepEqual([pod.labels, pod.annotations, pod.ownerReferences], [{}, {}, []]);
    assert.equal("nodeName" in pod, false);
  });
});

Deno.test("policy fields override a kubeconfig that points elsewhere with the wrong token and CA", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "lab", name: "db-0", labels: { tier: "db" } });
    const stale = `${api.pki.dir}/stale-kubeconfig`;
    await writeKubeconfig(stale, {
      server: closedPortUrl(),
      caFile: api.pki.otherCaFile,
      token: "stale-token",
    });
    const settings = settingsOf({
      kubernetes: { kubeconfig: stale },
      policy: {
        type: "k8s",
        // Old configs carried the /api/v1/ suffix; it must be cut back to the root.
        k8s_api_root: `${api.url}/api/v1/`,
        k8s_auth_token: api.token,
        k8s_certificate_authority: api.caFile,
      },
    });
    assert.equal(settings.overrides.server, api.url);
    const pod = await podVia(settings, "lab", "db-0");
    assert.deepEqual(pod?.labels, { tier: "db" });
    assert.equal(api.requests.at(-1)?.auth, "token");
  });
});

Deno.test("kubernetes.k8s_api_root wins over policy.k8s_api_root, as in the original", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "lab", name: "p" });
    const settings = settingsOf({
      kubernetes: { k8s_api_root: api.url },
      policy: {
        k8s_api_root: closedPortUrl(),
        k8s_auth_token: api.token,
        k8s_certificate_authority: api.caFile,
      },
    });
    assert.ok(await podVia(settings, "lab", "p"));
  });
});

Deno.test("bearer token only through policy; bad token is 401, a token without rights 403, neither temporary", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "lab", name: "p" });
    const policy = { k8s_api_root: api.url, k8s_certificate_authority: api.caFile };
    assert.equal(
      (await podVia(settingsOf({ policy: { ...policy, k8s_auth_token: api.token } }), "lab", "p"))?.name,
      "p",
    );

    const bad = await requestError(
      podVia(settingsOf({ policy: { ...policy, k8s_auth_token: "nope-secret" } }), "lab", "p"),
    );
    assert.equal(bad.status, 401);
    assert.equal(bad.reason, "Unauthorized");
    assert.equal(bad.temporary, false);
    assert.match(bad.message, new RegExp(`GET ${api.url}/api/v1/namespaces/lab/pods/p: 401 Unauthorized`));
    assert.ok(!bad.message.includes("nope-secret"), "the token must not appear in the error");
    assert.equal(toCniError(bad).code, ErrorCode.Internal);

    const denied = await requestError(
      podVia(settingsOf({ policy: { ...policy, k8s_auth_token: api.forbiddenToken } }), "lab", "p"),
    );
    assert.equal(denied.status, 403);
    assert.equal(denied.reason, "Forbidden");
    assert.equal(denied.temporary, false);
    assert.match(denied.message, /403 Forbidden: pods "p" is forbidden: User "system:serviceaccount/);
    assert.ok(!denied.message.includes(api.forbiddenToken));
    assert.deepEqual(api.requests.map((r) => r.auth), ["token", "bad-token", "forbidden-token"]);
  });
});

Deno.test("a missing pod or ReplicaSet is undefined, not an error", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "lab", name: "gone" });
    api.deletePod("lab", "gone");
    using kube = await openKube(settingsOf({ kubernetes: { kubeconfig: api.kubeconfigPath } }));
    assert.equal(await kube.getPod("lab", "gone"), undefined);
    assert.equal(await kube.getPod("other-ns", "nothing"), undefined);
    assert.equal(await kube.getReplicaSet("lab", "web-abc"), undefined);
    assert.deepEqual(api.requests.map((r) => r.path), [
      "/api/v1/namespaces/lab/pods/gone",
      "/api/v1/namespaces/other-ns/pods/nothing",
      "/apis/apps/v1/namespaces/lab/replicasets/web-abc",
    ]);
  });
});

Deno.test("an answer that is not a Pod is a BadResponse error, not a pod with empty fields", async () => {
  await withKubeApi(async (api) => {
    const served = api.setPod({ namespace: "lab", name: "odd" });
    served.kind = "Service";
    using kube = await openKube(settingsOf({ kubernetes: { kubeconfig: api.kubeconfigPath } }));
    const e = await requestError(kube.getPod("lab", "odd"));
    assert.equal(e.failure, "BadResponse");
    assert.equal(e.temporary, false);
    assert.match(e.message, /expected kind Pod, got "Service"/);
  });
});

Deno.test("controller: ReplicaSet resolves to its Deployment, StatefulSet and Job directly, none is undefined", async () => {
  await withKubeApi(async (api) => {
    api.setReplicaSet({ namespace: "lab", name: "web-7c9d5", owner: { kind: "Deployment", name: "web" } });
    api.setReplicaSet({ namespace: "lab", name: "bare-rs" });
    const pods = {
      deployed: api.setPod({
        namespace: "lab",
        name: "web-7c9d5-x2x",
        owner: { kind: "ReplicaSet", name: "web-7c9d5" },
      }),
      stateful: api.setPod({ namespace: "lab", name: "db-0", owner: { kind: "StatefulSet", name: "db" } }),
      job: api.setPod({ namespace: "lab", name: "once-q", owner: { kind: "Job", name: "once" } }),
      orphan: api.setPod({ namespace: "lab", name: "lonely" }),
      bareRs: api.setPod({
        namespace: "lab",
        name: "bare-rs-1",
        owner: { kind: "ReplicaSet", name: "bare-rs" },
      }),
      lostRs: api.setPod({
        namespace: "lab",
        name: "lost-1",
        owner: { kind: "ReplicaSet", name: "deleted-rs" },
      }),
    };
    using kube = await openKube(settingsOf({ kubernetes: { kubeconfig: api.kubeconfigPath } }));
    const controllers: Record<string, string | undefined> = {};
    for (const [key, obj] of Object.entries(pods)) {
      const name = (obj.metadata as { name: string }).name;
      const pod = await kube.getPod("lab", name);
      assert.ok(pod, name);
      controllers[key] = await kube.podController(pod);
    }
    assert.deepEqual(controllers, {
      deployed: "web",
      stateful: "db",
      job: "once",
      orphan: undefined,
      bareRs: "bare-rs",
      lostRs: "deleted-rs",
    });
    assert.deepEqual(
      api.requests.filter((r) => r.path.includes("replicasets")).map((r) => r.path),
      [
        "/apis/apps/v1/namespaces/lab/replicasets/web-7c9d5",
        "/apis/apps/v1/namespaces/lab/replicasets/bare-rs",
        "/apis/apps/v1/namespaces/lab/replicasets/deleted-rs",
      ],
    );
  });
});

Deno.test("unreachable API server: temporary error naming the URL, CNI code 11", async () => {
  const url = closedPortUrl();
  const started = Date.now();
  const e = await requestError(podVia(settingsOf({ policy: { k8s_api_root: url } }), "lab", "p"));
  assert.ok(Date.now() - started < 3000);
  assert.equal(e.failure, "Unreachable");
  assert.equal(e.temporary, true);
  assert.equal(e.status, undefined);
  assert.ok(e.url.startsWith(url), e.url);
  assert.match(e.message, /refused/i);
  assert.equal(toCniError(e).code, ErrorCode.TryAgainLater);
});

Deno.test("a server that accepts and never answers: temporary timeout within the configured time", async () => {
  const silent = startSilentServer();
  try {
    const settings = settingsOf({ policy: { k8s_api_root: silent.url } }, { timeoutMs: 400 });
    const started = Date.now();
    const e = await requestError(podVia(settings, "lab", "p"));
    const took = Date.now() - started;
    assert.ok(took >= 350 && took < 2500, `took ${took} ms`);
    assert.equal(e.failure, "Timeout");
    assert.equal(e.temporary, true);
    assert.match(e.message, new RegExp(`${silent.url}/api/v1/namespaces/lab/pods/p.*400 ms`));
    assert.equal(toCniError(e).code, ErrorCode.TryAgainLater);
  } finally {
    silent.close();
  }
});

Deno.test("wrong CA: a clear TLS error, not temporary, and no request reaches the server", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "lab", name: "p" });
    for (const ca of [api.pki.otherCaFile, undefined]) {
      const policy = { k8s_api_root: api.url, k8s_auth_token: api.token, k8s_certificate_authority: ca };
      const e = await requestError(podVia(settingsOf({ policy }), "lab", "p"));
      assert.equal(e.failure, "Tls");
      assert.equal(e.temporary, false);
      assert.match(e.message, /UnknownIssuer/);
      assert.match(e.message, /check the CA/);
      assert.ok(e.message.includes(api.url));
      assert.ok(!e.message.includes(api.token));
    }
    assert.equal(api.requests.length, 0);
  });
});

Deno.test("client certificate from kubeconfig files (relative paths) and from -data authenticates without a token", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "lab", name: "p" });
    const byFile = `${api.pki.dir}/kc-files`;
    await writeKubeconfig(byFile, {
      server: api.url,
      caFile: "ca.crt",
      clientCertFile: "client.crt",
      clientKeyFile: "client.key",
    });
    assert.equal((await podVia(settingsOf({ kubernetes: { kubeconfig: byFile } }), "lab", "p"))?.name, "p");

    const byData = `${api.pki.dir}/kc-data`;
    await writeKubeconfig(byData, {
      server: api.url,
      caData: await Deno.readTextFile(api.caFile),
      clientCertData: await Deno.readTextFile(api.pki.clientCertFile),
      clientKeyData: await Deno.readTextFile(api.pki.clientKeyFile),
    });
    assert.equal((await podVia(settingsOf({ kubernetes: { kubeconfig: byData } }), "lab", "p"))?.name, "p");

    // A certificate from a CA the server does not trust authenticates nobody: anonymous, 403.
    const stranger = await requestError(podVia(
      settingsOf({
        policy: {
          k8s_api_root: api.url,
          k8s_certificate_authority: api.caFile,
          k8s_client_certificate: api.pki.strangerCertFile,
          k8s_client_key: api.pki.strangerKeyFile,
        },
      }),
      "lab",
      "p",
    ));
    assert.equal(stranger.status, 403);
    assert.match(stranger.message, /system:anonymous/);
    assert.deepEqual(api.requests.map((r) => r.auth), ["client-cert", "client-cert", "anonymous"]);
  });
});

Deno.test("kubeconfig tokenFile, and insecure-skip-tls-verify without a CA", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "lab", name: "p" });
    await Deno.writeTextFile(`${api.pki.dir}/token`, `${api.token}\n`);
    const kc = `${api.pki.dir}/kc-insecure`;
    await writeKubeconfig(kc, { server: api.url, insecure: true, tokenFile: "token" });
    assert.equal((await podVia(settingsOf({ kubernetes: { kubeconfig: kc } }), "lab", "p"))?.name, "p");
    assert.equal(api.requests.at(-1)?.auth, "token");

    // The same file without the skip must fail: proves the skip, not a trusted CA, let it through.
    await writeKubeconfig(kc, { server: api.url, tokenFile: "token" });
    assert.equal(
      (await requestError(podVia(settingsOf({ kubernetes: { kubeconfig: kc } }), "lab", "p"))).failure,
      "Tls",
    );

    // Unreachable through the insecure transport is still temporary.
    await writeKubeconfig(kc, { server: closedPortUrl(), insecure: true, tokenFile: "token" });
    const e = await requestError(
      podVia(settingsOf({ kubernetes: { kubeconfig: kc } }, { timeoutMs: 1000 }), "lab", "p"),
    );
    assert.equal(e.temporary, true);
  });
});

Deno.test("in-cluster service account is used when nothing else is configured", async () => {
  await withKubeApi(async (api) => {
    api.setPod({ namespace: "kube-system", name: "anchor-x" });
    const sa = `${api.pki.dir}/serviceaccount`;
    await Deno.mkdir(sa);
    await Deno.writeTextFile(`${sa}/token`, api.token);
    await Deno.copyFile(api.caFile, `${sa}/ca.crt`);
    await Deno.writeTextFile(`${sa}/namespace`, "kube-system");
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: new URL(api.url).port };

    const settings = kubeSettingsFromConfig({}, { env, serviceAccountDir: sa });
    assert.deepEqual(settings?.serviceAccount, { server: api.url, dir: sa });
    assert.equal((await podVia(settings!, "kube-system", "anchor-x"))?.name, "anchor-x");
    assert.equal(api.requests.at(-1)?.auth, "token");

    assert.equal(kubeSettingsFromConfig({}, { env: {}, serviceAccountDir: sa }), undefined);
    assert.equal(kubeSettingsFromConfig({}, { env, serviceAccountDir: `${sa}-missing` }), undefined);
    // An explicit kubeconfig wins over the service account.
    assert.equal(
      kubeSettingsFromConfig({ kubernetes: { kubeconfig: api.kubeconfigPath } }, {
        env,
        serviceAccountDir: sa,
      })
        ?.serviceAccount,
      undefined,
    );
  });
});

Deno.test("settings: nothing configured is undefined; bad values are KubeConfigErrors naming the field", () => {
  assert.equal(kubeSettingsFromConfig({}, NOT_IN_CLUSTER), undefined);
  assert.equal(
    kubeSettingsFromConfig({ kubernetes: { node_name: "n1" }, policy: { type: "k8s" } }, NOT_IN_CLUSTER),
    undefined,
  );
  assert.equal(kubeSettingsFromConfig({ policy: { k8s_auth_token: "" } }, NOT_IN_CLUSTER), undefined);

  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ policy: { k8s_auth_token: "t" } }, "policy.k8s_auth_token", /no API server/],
    [{ policy: { k8s_api_root: "10.96.0.1:443" } }, "policy.k8s_api_root", /not a URL|https/],
    [{ policy: { k8s_api_root: "ftp://10.96.0.1" } }, "policy.k8s_api_root", /https:\/\//],
    [{ kubernetes: { kubeconfig: 7 } }, "kubernetes.kubeconfig", /string/],
    [{ kubernetes: "yes" }, "kubernetes", /object/],
  ];
  for (const [conf, field, detail] of cases) {
    assert.throws(() => kubeSettingsFromConfig(conf, NOT_IN_CLUSTER), (e: unknown) => {
      assert.ok(e instanceof KubeConfigError, String(e));
      assert.equal(e.field, field);
      assert.match(e.detail, detail);
      return true;
    });
  }
});

Deno.test("kubeconfig problems surface at openKube as KubeConfigErrors naming the file and entry", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kube-conf-" });
  try {
    const expectConfigError = async (kc: string, field: RegExp, detail: RegExp) => {
      const settings = settingsOf({ kubernetes: { kubeconfig: kc } });
      await assert.rejects(openKube(settings), (e: unknown) => {
        assert.ok(e instanceof KubeConfigError, String(e));
        assert.match(e.field, field);
        assert.match(e.detail, detail);
        return true;
      });
    };
    await expectConfigError(`${dir}/absent`, /^kubernetes\.kubeconfig$/, /cannot read .*absent/);

    await Deno.writeTextFile(
      `${dir}/exec`,
      [
        "apiVersion: v1",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]",
        "contexts: [{name: x, context: {cluster: c, user: u}}]",
        "current-context: x",
        "users: [{name: u, user: {exec: {command: aws}}}]",
      ].join("\n"),
    );
    await expectConfigError(`${dir}/exec`, /users\[u\]\.user\.exec$/, /not supported/);

    await Deno.writeTextFile(`${dir}/ctx`, "apiVersion: v1\ncurrent-context: nope\ncontexts: []\n");
    await expectConfigError(`${dir}/ctx`, /: contexts$/, /"nope"/);

    await writeKubeconfig(`${dir}/nocert`, {
      server: "https://127.0.0.1:6443",
      clientCertFile: "missing.crt",
    });
    await expectConfigError(`${dir}/nocert`, /users\[cni\]\.user\.client-certificate$/, /missing\.crt/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mod/kube loads no npm or node module until a kubeconfig or insecure TLS needs one", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../mod/kube/mod.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { specifier: string; code?: unknown; isDynamic?: boolean }[];
    }[];
  };
  // Code dependencies only: lazy()'s `typeof import()` is a type reference, which deno run does not read.
  const code = graph.modules.flatMap((m) =>
    (m.dependencies ?? []).filter((d) => d.code).map((d) => ({ m, d }))
  );
  const statics = code.filter(({ d }) => !d.isDynamic).map(({ m, d }) => `${m.specifier} -> ${d.specifier}`);
  const dynamics = code.filter(({ d }) => d.isDynamic).map(({ d }) => d.specifier);
  assert.ok(statics.length > 0);
  // Its own modules, and mod/lazy.ts, through which the YAML parser (npm) loads when a kubeconfig is read.
  assert.deepEqual(statics.filter((s) => !/ -> \.\/|-> \.\.\/lazy\.ts$/.test(s)), []);
  assert.deepEqual(dynamics.sort(), ["node:https"]);
});
