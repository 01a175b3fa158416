/**
 * The plugin bundle: the code a runtime's call runs (ADD, DEL, CHECK, GC, STATUS, VERSION of every
 * role), bundled by `deno bundle` into one file that the development launchers run
 * (mod/install/launchers.ts).
 *
 * Why: every plugin call is a fresh process, and `deno run` pays for each module it reads (resolve,
 * stat, read, hash, cache lookup). A ratchet ADD reads about 60 of them, which is most of what it
 * costs beyond an empty Deno program (README, "Benchmarks"). One file costs what one module does.
 *
 * How: the bundle is cut from a temporary copy of the tree in which every `lazy()` of the plugin
 * paths (mod/lazy.ts) is a literal `import()`. esbuild then puts the lazy targets (the store
 * backends, the Kubernetes client, CHECK and GC code) inside the bundle, initialised only when a
 * call reaches them, so every module exists once: the bundle never loads a source module beside
 * itself, which would give two `CniError` or `StoreError` classes and break every `instanceof`.
 * What only a command uses ({@link COMMAND_ONLY}) stays out, and so do npm packages: the
 * one a plugin call can reach (`yaml`, for a kubeconfig) is imported at run time through deno.json's
 * import map, as from the sources, so the bundle never carries CommonJS (`node:module` alone costs
 * about 40 ms per process).
 *
 * Bundles are cached by a hash of the sources and Deno's version, in `$XDG_CACHE_HOME/ratchet-cni`
 * (else `~/.cache/ratchet-cni`), so the test processes build it once. The compiled binary
 * (`deno task compile`) does not use it.
 */
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { ROLE_NAMES, ROLES } from "../role.ts";

/** The repository's root folder: what launchers, bundles and `deno task compile` are made from. */
export const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Modules that only a command loads (a call with arguments: a person's, or the waiter that ratchet
 * starts), relative to the repo: the command-line toolkit (mod/cli.ts, whose node:util alone costs
 * 13-20 ms at start), the DSL, the picture, the demo, monkey, install, the waiter, and anchor's and
 * ratchet's command modules. Their `lazy()` calls, and `lazy()` calls that point at them, are left as
 * they are, so no bundle holds or reads them. The build fails if one of them ends up in a bundle
 * anyway (a static import from a plugin path). monkey's and install's command modules are the thin
 * lazy wiring that anchor's role module names.
 */
export const COMMAND_ONLY: readonly RegExp[] = [
  /^dsl\//,
  /^mod\/picture\//,
  /^mod\/demo\//,
  /^mod\/monkey\/(?!command\.ts$)/,
  /^mod\/install\/(?!command\.ts$|usage\.ts$)/,
  /^mod\/anchor\/commands\//,
  /^mod\/ratchet\/cli\.ts$/,
  /^mod\/cli\.ts$/,
  /^mod\/ratchet\/waiter_run\.ts$/,
];

/** Whether `path` (relative to the repo) is one of the {@link COMMAND_ONLY} modules. */
export function isCommandOnly(path: string): boolean {
  return COMMAND_ONLY.some((p) => p.test(path));
}

/**
 * `lazy<T>(new URL("X", import.meta.url))`, the form mod/lazy.ts documents, over any line breaks and
 * trailing commas `deno fmt` adds.
 */
const LAZY_CALL = /\blazy<[^>]*>\(\s*new URL\(\s*("[^"]+")\s*,\s*import\.meta\.url\s*,?\s*\),?\s*\)/g;
/** `lazy<T>(new URL(import.meta.resolve("name")))`: an npm package through the import map, left lazy. */
const LAZY_PACKAGE =
  /\blazy<[^>]*>\(\s*new URL\(\s*import\.meta\.resolve\(\s*"[^".\/][^"]*"\s*\)\s*\),?\s*\)/g;
/** `new URL("X", import.meta.url)` outside the calls above: a file beside the source module. */
const BESIDE = /new URL\(\s*("[^"]+")\s*,\s*import\.meta\.url\s*,?\s*\)/g;

/**
 * The plugin bundles for the current sources, one per role (`DIR/ROLE.js`), built when the cache has
 * none. Returns DIR, or undefined when there is no cache folder this process can write (the launchers
 * then run main.ts for every call).
 *
 * @param deno the deno executable that builds them (`deno bundle`) and will run them.
 * @throws Error when `deno bundle` fails, when a `lazy()` call is not in the form the build can
 *   rewrite, or when a bundle fails {@link checkBundle}: defects of the code, never hidden.
 */
export function pluginBundles(deno: string): string | undefined {
  const cache = cacheDir();
  if (!cache) return undefined;
  const version = new Deno.Command(deno, { args: ["--version"] }).outputSync();
  const hash = createHash("sha256").update(version.stdout);
  const files = sources();
  for (const f of files) hash.update(f).update("\0").update(readFileSync(`${REPO}/${f}`)).update("\0");
  const out = `${cache}/plugins-${hash.digest("hex").slice(0, 24)}`;
  if (existsSync(out)) {
    try {
      // Touched on each use, so pruneStale's clock counts from the last launchers written with it.
      Deno.utimeSync(out, new Date(), new Date());
    } catch {
      // another user's cache folder: used as it is
    }
    return out;
  }
  pruneStale(cache);
  const work = Deno.makeTempDirSync({ prefix: "ratchet-bundle-" });
  try {
    for (const f of files) {
      mkdirSync(`${work}/${f.slice(0, f.lastIndexOf("/") + 1)}`, { recursive: true });
      cpSync(`${REPO}/${f}`, `${work}/${f}`);
    }
    // Each role's bundle holds its own role module alone: the registry's loaders stay lazy.
    const roleModules = new Map(ROLE_NAMES.map((name) => [name, relative(ROLES[name].module)]));
    const keep = new Set(roleModules.values());
    for (const f of files.filter((f) => f.endsWith(".ts"))) rewriteLazy(work, f, keep);
    mkdirSync(`${work}/entries`);
    for (const [name, module] of roleModules) {
      // What main.ts does once argv[0] has named the role; the launcher runs this file only then.
      writeFileSync(
        `${work}/entries/${name}.ts`,
        `import { runRole } from "../mod/role.ts";\nimport { role } from "../${module}";\nawait runRole(role, []);\n`,
      );
    }
    // The import map's names (the npm packages) stay imports, resolved when they run; `--packages
    // external` would not do: Deno maps the name to npm:... before esbuild sees it.
    const imports = Object.keys(JSON.parse(readFileSync(`${REPO}/deno.json`, "utf8")).imports ?? {});
    const built = new Deno.Command(deno, {
      args: [
        "bundle",
        "--quiet",
        "--config=deno.json",
        "--platform=deno",
        "--format=esm",
        ...imports.map((name) => `--external=${name}`),
        "--outdir=out",
        ...ROLE_NAMES.map((name) => `entries/${name}.ts`),
      ],
      cwd: work,
    }).outputSync();
    if (!built.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(built.stderr)}`);
    for (const name of ROLE_NAMES) checkBundle(name, readFileSync(`${work}/out/${name}.js`, "utf8"));
    // Built aside and renamed into place: test processes building at once each find whole files.
    const temp = `${out}.${Deno.pid}.tmp`;
    cpSync(`${work}/out`, temp, { recursive: true });
    try {
      renameSync(temp, out);
    } catch (e) {
      rmSync(temp, { recursive: true, force: true });
      // Another process renamed the same build into place first.
      if (!(e instanceof Error && "code" in e && (e.code === "ENOTEMPTY" || e.code === "EEXIST"))) throw e;
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `$XDG_CACHE_HOME/ratchet-cni`, else `$HOME/.cache/ratchet-cni` (relative or empty values are ignored,
 * as the XDG base directory spec says), made when missing; undefined when neither can be made.
 */
function cacheDir(): string | undefined {
  const absolute = (name: string) => {
    const value = Deno.env.get(name);
    return value?.startsWith("/") ? value : undefined;
  };
  const base = absolute("XDG_CACHE_HOME") ?? (absolute("HOME") && `${absolute("HOME")}/.cache`);
  if (!base) return undefined;
  try {
    mkdirSync(`${base}/ratchet-cni`, { recursive: true });
    return `${base}/ratchet-cni`;
  } catch {
    return undefined;
  }
}

/** Bundles unused for this long are removed when another is built, so the cache stays bounded. */
const STALE_MS = 7 * 24 * 3600_000;

/**
 * Removes this cache's bundle folders unused for {@link STALE_MS}: each source state of every checkout
 * makes one (about 0.7 MB). A launcher whose bundle is gone runs main.ts instead.
 */
function pruneStale(cache: string): void {
  for (const e of readdirSync(cache, { withFileTypes: true })) {
    // A build killed before its rename leaves a `.PID.tmp` folder: it goes the same way.
    if (!e.isDirectory() || !/^plugins-[0-9a-f]+(\.\d+\.tmp)?$/.test(e.name)) continue;
    const path = `${cache}/${e.name}`;
    try {
      if (Date.now() - (Deno.statSync(path).mtime?.getTime() ?? Date.now()) > STALE_MS) {
        rmSync(path, { recursive: true, force: true });
      }
    } catch {
      // another user's folder, or gone meanwhile: not ours to insist on
    }
  }
}

/** A `file:` URL of a module in this repo, relative to the repo. */
function relative(url: string): string {
  return new URL(url).pathname.slice(REPO.length + 1);
}

/** The files a bundle is built from, relative to the repo: main.ts, the program's modules, the config. */
function sources(): string[] {
  return ["main.ts", "deno.json", "deno.lock", ...programModules()];
}

/** Every module of the program (mod/ and dsl/), relative to the repo, sorted. */
export function programModules(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(`${REPO}/${dir}`, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith(".ts") ? [`${dir}/${e.name}`] : []
    );
  return [...walk("mod"), ...walk("dsl")].sort();
}

/**
 * Turns the plugin paths' `lazy()` calls in `file` into literal `import()`s (see the module doc), and
 * every other `new URL("X", import.meta.url)` into the source file's own URL, so that it names the same
 * file from a bundle as from the sources (a bundle's `import.meta.url` is the bundle's).
 */
function rewriteLazy(work: string, file: string, keep: Set<string>): void {
  if (file === "mod/lazy.ts") return;
  const text = readFileSync(`${work}/${file}`, "utf8");
  // A lazy() call the patterns miss would load nothing from a bundle: refuse it here instead. Only
  // modules that import lazy() can call it; the others may name it in prose.
  const callsLazy = /import \{ lazy \} from "[./]*lazy\.ts";/.test(text);
  const calls = callsLazy ? text.match(/\blazy\s*(<|\((?!\)))/g)?.length ?? 0 : 0;
  let seen = callsLazy ? text.match(LAZY_PACKAGE)?.length ?? 0 : 0;
  const source = `file://${REPO}/${file}`;
  const literal = (call: string, specifier: string) => {
    seen++;
    const target = relative(new URL(JSON.parse(specifier), source).href);
    return isCommandOnly(file) || isCommandOnly(target) || keep.has(target)
      ? call
      : `(() => import(${specifier}))`;
  };
  const rewritten = (callsLazy ? text.replace(LAZY_CALL, literal) : text)
    .replace(BESIDE, (_, specifier: string) => `new URL(${specifier}, ${JSON.stringify(source)})`);
  if (seen !== calls) {
    throw new Error(
      `${file}: a lazy() call is not of the form lazy<T>(new URL("./x.ts", import.meta.url)) (or an npm package's, ` +
        `lazy<T>(new URL(import.meta.resolve("name"))))`,
    );
  }
  if (rewritten !== text) writeFileSync(`${work}/${file}`, rewritten);
}

/**
 * Refuses a bundle that carries CommonJS, a module only commands use, a start-up import of a node:
 * module or of anything else, or `import.meta.url` (which would name the bundle's folder, not the
 * source module's).
 */
function checkBundle(role: string, text: string): void {
  if (/import\.meta\.(url|dirname|filename)/.test(text)) {
    throw new Error(`${role}'s plugin bundle uses import.meta.url, which names the bundle's folder there`);
  }
  if (text.includes('"node:module"')) {
    throw new Error(`${role}'s plugin bundle carries CommonJS (node:module)`);
  }
  // esbuild hoists every module's static imports of node: modules to the bundle's start, lazy ones too,
  // and each costs there (node:util 13-20 ms, node:sqlite 6 ms): import them where they are used.
  const hoisted = [...text.matchAll(/^import (?:.* from )?"(node:[^"]+)";$/gm)].map((m) => m[1]);
  if (hoisted.length) throw new Error(`${role}'s plugin bundle loads ${hoisted.join(", ")} at start-up`);
  // deno run reads a literal import()'s target at start-up; npm packages must load only when used.
  const literal = [...text.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]).filter((s) =>
    !s.startsWith("node:")
  );
  if (literal.length) throw new Error(`${role}'s plugin bundle imports ${literal.join(", ")} at start-up`);
  // esbuild marks each module's code with a `// path` comment line.
  const modules = [...text.matchAll(/^\/\/ (\S+\.ts)$/gm)].map((m) => m[1]);
  const stray = modules.filter(isCommandOnly);
  if (stray.length) {
    throw new Error(`${role}'s plugin bundle holds modules only commands use: ${stray.join(", ")}`);
  }
}
