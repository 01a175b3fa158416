/**
 * File work of the installer: atomic writes, our marker on generated configs, and the binary with
 * its role symlinks.
 */
import { ROLE_NAMES } from "../role.ts";
import { linkRoleNames, writeLaunchers } from "./launchers.ts";

/** The field that marks a CNI config as written by `anchor install`; its value names the version. */
export const GENERATED_BY = "generatedBy";

/** Refusal to overwrite a config someone else wrote. */
export class ForeignConfigError extends Error {
  constructor(readonly path: string) {
    super(`${path} was not written by anchor install; pass --force to replace it`);
    this.name = "ForeignConfigError";
  }
}

/**
 * Writes `text` to `path` so that readers see the old file or the new one, never half of either:
 * a temp file in the same directory, fsynced, then renamed over. CNI runtimes watch the conf dir
 * and would otherwise load a truncated config.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  Deno.mkdirSync(dir, { recursive: true });
  // A dot name and no .conf suffix, so a runtime scanning the directory never loads the temp file.
  const temp = `${dir}/.${path.slice(dir.length + 1)}.${Deno.pid}.tmp`;
  const f = Deno.openSync(temp, { write: true, create: true, truncate: true, mode });
  try {
    f.writeSync(new TextEncoder().encode(text));
    f.syncSync();
  } finally {
    f.close();
  }
  Deno.chmodSync(temp, mode);
  Deno.renameSync(temp, path);
}

/**
 * Whether a config file is ours to replace: absent, or JSON carrying {@link GENERATED_BY}.
 * Anything else (another plugin's config, a hand-written one, garbage) is foreign.
 */
export function ownedOrAbsent(path: string): boolean {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
  try {
    const parsed = JSON.parse(text);
    return typeof parsed?.[GENERATED_BY] === "string" && parsed[GENERATED_BY].startsWith("anchor install");
  } catch {
    return false;
  }
}

/** Removes a file, quietly when it is already gone. True when it existed. */
export function removeIfPresent(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** What installBinaries did, for the command's report. */
export interface BinaryInstall {
  /** "binary" when the compiled program was copied, "launchers" for a development checkout. */
  kind: "binary" | "launchers";
  paths: string[];
}

/**
 * Puts the program into the CNI bin dir under its four names. A compiled binary is copied (temp +
 * rename, so a runtime exec'ing the old one mid-update is unharmed) and symlinked; under `deno run`
 * the executable is deno itself, and copying it would install a bare deno, so the development
 * launchers are written instead.
 */
export function installBinaries(binDir: string, execPath = Deno.execPath()): BinaryInstall {
  const paths = ROLE_NAMES.map((n) => `${binDir}/${n}`);
  if (isDenoItself(execPath)) {
    writeLaunchers(binDir, execPath);
    return { kind: "launchers", paths };
  }
  Deno.mkdirSync(binDir, { recursive: true });
  const target = `${binDir}/${ROLE_NAMES[0]}`;
  const temp = `${binDir}/.${ROLE_NAMES[0]}.${Deno.pid}.tmp`;
  if (execPath !== target) {
    Deno.copyFileSync(execPath, temp);
    Deno.chmodSync(temp, 0o755);
    Deno.renameSync(temp, target);
  }
  linkRoleNames(binDir);
  return { kind: "binary", paths };
}

/** True when the running executable is the deno CLI rather than a compiled program. */
export function isDenoItself(execPath: string): boolean {
  return /(^|\/)deno$/.test(execPath);
}
