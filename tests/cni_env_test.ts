/**
 * Every environment variable is read safely: a value that is not UTF-8 text is the spec's code 4
 * naming the variable, never a stack trace, a default, or "not set". And stdout carries only the
 * spec's JSON whenever a runtime called.
 */
import assert from "node:assert/strict";
import { runPlugin } from "./lib/plugin.ts";

const ADD = { command: "ADD", containerId: "c0ffee", netns: "/proc/self/ns/net", ifname: "eth0" };

/** Runs the plugin with `name` set to the bytes 0xff 0xfe (not UTF-8), through bash, which can. */
function withBadBytes(
  name: string,
  role = "anchor",
  conf: unknown = { cniVersion: "1.0.0", name: "n", type: role },
) {
  return runPlugin(role, {
    ...ADD,
    conf,
    prefix: ["bash", "-c", `export ${name}=$(printf '\\xff\\xfe'); exec "$@"`, "bash"],
  });
}

for (const name of ["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"]) {
  Deno.test(`a ${name} that is not UTF-8 is code 4 naming it, with no stack trace`, async () => {
    const r = await withBadBytes(name);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(r.json, { cniVersion: "1.0.0", code: 4, msg: `${name} is not valid UTF-8 text` });
    assert.doesNotMatch(r.stderr, /Uncaught|\n {4}at /, "no stack trace");
  });
}

for (const role of ["anchor", "octopus"]) {
  Deno.test(`KUBERNETES_SERVICE_HOST that is not UTF-8 is code 4 naming it (${role} looks the pod up)`, async () => {
    const ipam = { type: "anchor", store: "/nonexistent" };
    const r = await runPlugin(role, {
      ...ADD,
      // Naming a pod makes the role ask mod/kube, which reads the in-cluster variables.
      cniArgs: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1",
      conf: role === "anchor"
        ? { cniVersion: "1.0.0", name: "n", type: "anchor", ipam }
        : { cniVersion: "1.0.0", name: "n", type: "octopus", octopus: { "10.0.1.0/24": "eth0" }, ipam },
      prefix: ["bash", "-c", `export KUBERNETES_SERVICE_HOST=$(printf '\\xff\\xfe'); exec "$@"`, "bash"],
    });
    assert.equal(r.json?.code, 4, r.stdout + r.stderr);
    assert.match(r.json.msg, /^KUBERNETES_SERVICE_HOST is not valid UTF-8 text/);
  });
}

/** Runs the role with only PATH and `env`: no CNI_COMMAND unless `env` has one. */
function bare(role: string, env: Record<string, string>) {
  return runPlugin(role, { env, ...(env.CNI_PATH ? { path: env.CNI_PATH } : {}) });
}

Deno.test("no CNI_COMMAND and no CNI_ variable: a person gets the help on stdout, exit 2", async () => {
  for (const env of [{}, { CNI_COMMAND: "" }] as Record<string, string>[]) {
    const r = await bare("octopus", env);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /^octopus \d+\.\d+\.\d+: /);
  }
});

Deno.test("no CNI_COMMAND but other CNI_ variables: stdout is only the spec's error, the help goes to stderr", async () => {
  for (
    const env of [{ CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0" }, {
      CNI_COMMAND: "",
      CNI_PATH: "/usr/lib/cni",
    }] as Record<string, string>[]
  ) {
    const r = await bare("anchor", env);
    assert.equal(r.code, 2);
    assert.deepEqual(JSON.parse(r.stdout), { cniVersion: "1.1.0", code: 4, msg: "CNI_COMMAND is not set" });
    assert.match(r.stderr, /^anchor \d+\.\d+\.\d+: /);
  }
});
