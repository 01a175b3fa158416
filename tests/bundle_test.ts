/**
 * The plugin bundles (mod/install/bundle.ts) and the launchers that run them: a runtime's call runs
 * its role's bundle, which holds that role's plugin path and nothing a person's command or another
 * role uses; a person's call runs main.ts.
 */
import assert from "node:assert/strict";
import { isCommandOnly, pluginBundles } from "../mod/install/bundle.ts";
import { ROLE_NAMES } from "../mod/role.ts";
import { PLUGIN_V8_FLAGS, writeLaunchers } from "../mod/install/launchers.ts";
import { binDir } from "./lib/plugin.ts";

/** The folder of this tree's bundles (the test machine has a writable cache). */
function bundles(): string {
  const dir = pluginBundles(Deno.execPath());
  assert.ok(dir, "no writable cache folder");
  return dir;
}

/** The modules the bundle of `role` in `dir` holds, from esbuild's `// path` line before each module's code. */
function bundled(dir: string, role: string): string[] {
  const text = Deno.readTextFileSync(`${dir}/${role}.js`);
  return [...text.matchAll(/^\/\/ (\S+\.ts)$/gm)].map((m) => m[1]);
}

Deno.test("each role's bundle holds its own plugin path, no other role's plugin and no command's modules", () => {
  const plugins = {
    ratchet: "mod/ratchet/plugin.ts",
    anchor: "mod/anchor/plugin.ts",
    octopus: "mod/octopus/plugin.ts",
  };
  const dir = bundles();
  for (const role of ROLE_NAMES) {
    const modules = bundled(dir, role);
    for (const [owner, plugin] of Object.entries(plugins)) {
      // octopus runs anchor in its own process when anchor is its IPAM (mod/octopus/ipam.ts).
      const wanted = owner === role || (role === "octopus" && owner === "anchor");
      assert.equal(modules.includes(plugin), wanted, `${role}.js holding ${plugin}`);
    }
    assert.deepEqual(modules.filter(isCommandOnly), [], role);
    assert.deepEqual(modules.filter((m) => m.startsWith("npm:") || m.includes("node_modules")), [], role);
  }
  // The lazy targets a plugin call can reach are inside, so no module is loaded twice.
  for (
    const m of [
      "mod/store/sqlite_store.ts",
      "mod/store/etcd_store.ts",
      "mod/kube/client.ts",
      "mod/ratchet/gc.ts",
    ]
  ) {
    assert.ok(bundled(dir, "ratchet").includes(m), m);
  }
});

/** What the launcher under `name` execs for `args` and `env`, with bash's exec replaced by an echo. */
async function launched(
  name: string,
  args: string[],
  env: Record<string, string>,
  dir = binDir(),
): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `exec() { echo "EXEC $*"; exit 0; }; source "$0" "$@"`, `${dir}/${name}`, ...args],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith("EXEC")) ?? "";
}

Deno.test("the launcher runs a runtime's call from the role's bundle and everything else from main.ts", async () => {
  for (const role of ROLE_NAMES) {
    const line = await launched(role, [], { CNI_COMMAND: "ADD" });
    assert.ok(line.endsWith(`${PLUGIN_V8_FLAGS} ${bundles()}/${role}.js`), line);
  }
  assert.match(
    await launched("anchor", ["ls"], { CNI_COMMAND: "ADD" }),
    /main\.ts ls$/,
    "arguments: a person",
  );
  assert.match(await launched("anchor", [], {}), /main\.ts$/, "no CNI_COMMAND: a person");
  assert.ok(
    !(await launched("ratchet-child", ["waiter"], {})).includes("--v8-flags"),
    "the waiter keeps V8's tiers",
  );
  assert.match(
    await launched("anchor", [], { CNI_COMMAND: "" }),
    /main\.ts$/,
    "an empty CNI_COMMAND: a person",
  );
});

Deno.test("building bundles removes the cache's bundles unused for a week and keeps the others", () => {
  const cache = Deno.makeTempDirSync({ prefix: "bundle-cache-" });
  const before = Deno.env.get("XDG_CACHE_HOME");
  try {
    const old = `${cache}/ratchet-cni/plugins-0123abcd`, recent = `${cache}/ratchet-cni/plugins-4567ef01`;
    for (const dir of [old, recent]) Deno.mkdirSync(dir, { recursive: true });
    const weekAgo = new Date(Date.now() - 8 * 24 * 3600_000);
    Deno.utimeSync(old, weekAgo, weekAgo);
    Deno.env.set("XDG_CACHE_HOME", cache);
    const built = bundles();
    assert.ok(built.startsWith(`${cache}/ratchet-cni/plugins-`));
    for (const role of ROLE_NAMES) Deno.statSync(`${built}/${role}.js`);
    assert.throws(() => Deno.statSync(old), Deno.errors.NotFound);
    Deno.statSync(recent);
  } finally {
    if (before === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", before);
    Deno.removeSync(cache, { recursive: true });
  }
});

Deno.test("with no writable cache folder the launchers are still written, and every call runs main.ts", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "cni-bin-nocache-" });
  const saved = ["XDG_CACHE_HOME", "HOME"].map((k) => [k, Deno.env.get(k)] as const);
  try {
    // A file where the folder would go, and a relative HOME, which the XDG spec says to ignore.
    Deno.env.set("XDG_CACHE_HOME", "/dev/null");
    Deno.env.set("HOME", "relative/home");
    assert.equal(pluginBundles(Deno.execPath()), undefined);
    writeLaunchers(dir);
    assert.match(await launched("anchor", [], { CNI_COMMAND: "ADD" }, dir), /main\.ts$/);
    const version = await new Deno.Command(`${dir}/anchor`, {
      env: { CNI_COMMAND: "VERSION" },
      stdin: "null",
    })
      .output();
    assert.equal(JSON.parse(new TextDecoder().decode(version.stdout)).cniVersion, "1.1.0");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    Deno.removeSync(dir, { recursive: true });
  }
});
