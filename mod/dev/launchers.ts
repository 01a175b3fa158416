/**
 * Development launchers: a directory holding `ratchet` (a script that runs main.ts under Deno
 * with argv[0] kept) and symlinks for the other three names, the same shape as a real
 * /opt/cni/bin install of the compiled binary. Tests run the plugins only through these.
 *
 * Usage: deno task bin DIR
 */
export const ROLE_NAMES = ["ratchet", "ratchet-child", "anchor", "octopus"] as const;

const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** Writes the launcher script and the role symlinks into `dir`, replacing older ones. */
export function writeLaunchers(dir: string, deno = Deno.execPath()): string {
  Deno.mkdirSync(dir, { recursive: true });
  const script = `${dir}/ratchet`;
  const body = [
    "#!/bin/bash",
    "# Runs the repo's main.ts as a CNI plugin; exec -a keeps the name this was called by, which picks the role.",
    `exec -a "$0" ${shellQuote(deno)} run -A --quiet --no-prompt --config ${
      shellQuote(`${repo}/deno.json`)
    } ${shellQuote(`${repo}/main.ts`)} "$@"`,
    "",
  ].join("\n");
  Deno.writeTextFileSync(`${script}.tmp`, body, { mode: 0o755 });
  Deno.renameSync(`${script}.tmp`, script);
  for (const name of ROLE_NAMES.slice(1)) {
    const link = `${dir}/${name}`;
    try {
      Deno.removeSync(link);
    } catch {
      // not there yet
    }
    Deno.symlinkSync("ratchet", link);
  }
  return dir;
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (!dir) {
    console.error("usage: deno task bin DIR");
    Deno.exit(2);
  }
  writeLaunchers(dir);
  console.log(`launchers written to ${dir}: ${ROLE_NAMES.join(", ")}`);
}
