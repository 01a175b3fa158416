/**
 * Development launchers: a directory holding `ratchet` (a script that runs main.ts under Deno
 * with argv[0] kept) and symlinks for the other role names, the same shape as a real
 * /opt/cni/bin install of the compiled binary. `anchor install` writes these under `deno run`,
 * `deno task bin DIR` (mod/dev/launchers.ts) writes them for people, and tests run the plugins
 * only through them.
 */
import { ROLE_NAMES } from "../role.ts";
import { pluginBundles, REPO } from "./bundle.ts";

/**
 * Writes the launcher script and the role symlinks into `dir`, replacing older ones. A runtime's call
 * (no arguments, CNI_COMMAND set: what main.ts treats as a plugin call) runs the role's plugin bundle
 * (mod/install/bundle.ts), built now from the sources as they are; everything else runs main.ts.
 * Run it again after changing the code, as one would rebuild a binary. With no cache folder to build
 * into, it says so on stderr and every call runs main.ts.
 */
export function writeLaunchers(dir: string, deno = Deno.execPath()): string {
  Deno.mkdirSync(dir, { recursive: true });
  const script = `${dir}/${ROLE_NAMES[0]}`;
  const bundles = pluginBundles(deno);
  if (!bundles) {
    console.error(
      "no writable cache folder ($XDG_CACHE_HOME or $HOME/.cache): plugin calls will run main.ts",
    );
  }
  const run = `exec -a "$0" ${shellQuote(deno)} ${denoRunFlags()}`;
  const body = [
    "#!/bin/bash",
    "# Runs the repo's main.ts; exec -a keeps the name this was called by, which picks the role.",
    ...bundles
      ? [
        "# A runtime's call runs that role's plugin bundle instead: the same code in one file, which starts faster.",
        `bundle=${shellQuote(bundles)}/"\${0##*/}.js"`,
        `if [ $# -eq 0 ] && [ -n "\${CNI_COMMAND-}" ] && [ -f "$bundle" ]; then ${run} ${PLUGIN_V8_FLAGS} "$bundle"; fi`,
      ]
      : [],
    `${run} ${shellQuote(`${REPO}/main.ts`)} "$@"`,
    "",
  ].join("\n");
  Deno.writeTextFileSync(`${script}.tmp`, body, { mode: 0o755 });
  Deno.renameSync(`${script}.tmp`, script);
  linkRoleNames(dir);
  return dir;
}

/**
 * Points every role name but the first at `ROLE_NAMES[0]` in `dir` (relative symlinks). Each is
 * made under a temp name and renamed over, so a runtime exec'ing a name mid-update finds either
 * the old link or the new one.
 */
export function linkRoleNames(dir: string): void {
  for (const name of ROLE_NAMES.slice(1)) {
    const temp = `${dir}/.${name}.${Deno.pid}.tmp`;
    try {
      Deno.removeSync(temp);
    } catch {
      // the usual case: no leftover from a crashed run
    }
    Deno.symlinkSync(ROLE_NAMES[0], temp);
    Deno.renameSync(temp, `${dir}/${name}`);
  }
}

/**
 * The `deno run` flags of every launcher call: all permissions (a CNI plugin is root's program), no
 * prompt or progress output on a runtime's stdio, and the repo's deno.json for its import map.
 */
export function denoRunFlags(): string {
  return `run -A --quiet --no-prompt --config ${shellQuote(`${REPO}/deno.json`)}`;
}

/**
 * V8 flags of a runtime's call: a plugin process lives about 50 ms, too short for V8's compiling tiers
 * (Sparkplug, Maglev, TurboFan) to pay back the work they start on other threads, so only the
 * interpreter runs. Measured on 40 sequential ratchet ADDs: about 7 ms of CPU less per call (122 ms
 * against 115, an empty program 85 either way). The waiter and people's commands, which live longer,
 * keep every tier (see V8's flag-definitions.h for the flags).
 */
export const PLUGIN_V8_FLAGS = "--v8-flags=--no-opt,--no-maglev,--no-sparkplug";

/** Quotes `s` for bash, as one word. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
