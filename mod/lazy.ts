/**
 * Lazy loading that Deno's start-up does not see.
 *
 * `deno run` builds the module graph before running anything, and it follows `import("./x.ts")` of a
 * literal specifier too: every module any branch might load is read, hashed and checked against the
 * cache at every start. A plugin process then pays for the role's commands, the other backends and the
 * web UI it never runs (measured: about 20 ms of CPU per start for the program's ~150 modules, against
 * an empty Deno program's ~25 ms). A specifier Deno cannot read statically is resolved only when the
 * import runs, so each path loads its own graph and nothing else.
 *
 * Pair every use with a `typeof import()` of the same module: it keeps the types, and `deno check` and
 * `deno info` (which count type references) still see the whole program. `deno compile` needs the
 * lazy modules named with `--include` (mod/dev/compile.ts). The plugin bundles (mod/install/bundle.ts)
 * turn these calls back into literal imports, so write them in one of the two forms below: a module of
 * this program, or an npm package through deno.json's import map, which stays lazy in a bundle too.
 *
 * @example
 * ```ts
 * const loadPlugin = lazy<typeof import("./plugin.ts")>(new URL("./plugin.ts", import.meta.url));
 * const { anchorPlugin } = await loadPlugin();
 * const loadYaml = lazy<typeof import("yaml")>(new URL(import.meta.resolve("yaml")));
 * ```
 */
export function lazy<T>(module: URL): Lazy<T> {
  const specifier = module.href;
  return Object.assign(() => import(specifier) as Promise<T>, { module: specifier });
}

/** A loader from {@link lazy}: call it to import the module; `module` is its URL. */
export type Lazy<T> = (() => Promise<T>) & { readonly module: string };
