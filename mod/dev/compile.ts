/**
 * `deno task compile`: the single binary, dist/ratchet, plus the role symlinks beside it.
 *
 * `deno compile` needs its runtime image (denort); where it cannot be downloaded, this says so
 * in one line instead of a backtrace. DENORT_BIN, which deno compile honours, points at a local one.
 */
import { programModules, REPO } from "../install/bundle.ts";
import { linkRoleNames } from "../install/launchers.ts";
import { ROLE_NAMES } from "../role.ts";

/** Compiles main.ts into `outDir`/ratchet; returns the binary's path, or throws with one line. */
export async function compile(outDir = `${REPO}/dist`): Promise<string> {
  Deno.mkdirSync(outDir, { recursive: true });
  const binary = `${outDir}/${ROLE_NAMES[0]}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "-A",
      "--quiet",
      "--no-check",
      "--config",
      `${REPO}/deno.json`,
      "--output",
      binary,
      // Modules loaded through mod/lazy.ts are invisible to the graph deno compile embeds. So are npm
      // packages loaded that way (yaml, by mod/kube/kubeconfig.ts): the binary has yaml because
      // dsl/render_pods.ts imports it too; a package only lazy() names would need adding here.
      ...programModules().flatMap((path) => ["--include", `${REPO}/${path}`]),
      `${REPO}/main.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    if (/denort|base binary/i.test(err) && /request|dns|connect|download/i.test(err)) {
      throw new Error(
        "deno compile cannot download its runtime (denort) on this machine; set DENORT_BIN to a local denort, or use `deno task bin DIR` launchers",
      );
    }
    throw new Error(`deno compile failed: ${err.trim().split("\n").slice(0, 3).join(" ")}`);
  }
  linkRoleNames(outDir);
  return binary;
}

if (import.meta.main) {
  try {
    console.log(`compiled ${await compile(Deno.args[0])} with symlinks ${ROLE_NAMES.slice(1).join(", ")}`);
  } catch (e) {
    console.error(`compile: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
