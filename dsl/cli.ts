/**
 * The DSL's commands as functions the program's CLI wires up: each prints to stdout/stderr and
 * returns the exit code (0 fine, 1 topology errors, 2 usage or unreadable input). `lint` and
 * `render` take their arguments; `apply` and `status` take them parsed, with the store opened, by
 * mod/ratchet/cli.ts, which owns the store flags.
 */
import { parseCommand, runCommand, STORE_FLAGS, UsageError, withFlagStore } from "../mod/cli.ts";
import { STORE_USAGE } from "../mod/ratchet/main.ts";
import type { KeyValue } from "../mod/store/mod.ts";
import type { Picture } from "../mod/picture/model.ts";
import type { KvStore } from "./apply.ts";
import type { Diagnostic, LintResult, Topology } from "./types.ts";

/** What the picture commands read from a store: one listing of /ratchet/. */
export interface ListingStore {
  list(prefix: string): Promise<KeyValue[]>;
}

const USAGE = {
  lint: "ratchet lint [--format text|json] FILE...   (FILE may be @default or -)",
  render: `ratchet render FILE --to pod-specs|store|cni-config|dot|svg [--node NODE] ${STORE_USAGE}`,
};

/** Reads a topology's text; `@default` is the embedded one, `-` is stdin. */
export async function readTopologyText(file: string): Promise<string> {
  if (file === "-") return await new Response(Deno.stdin.readable).text();
  const { DEFAULT_TOPOLOGY, DEFAULT_TOPOLOGY_NAME } = await import("./default_topology.ts");
  if (file === DEFAULT_TOPOLOGY_NAME) return DEFAULT_TOPOLOGY;
  return await Deno.readTextFile(file);
}

/** Lints a file, printing its diagnostics to stderr; returns the result, or undefined on errors. */
async function loadClean(file: string): Promise<LintResult | undefined> {
  const { lintTopology, hasErrors, formatDiagnostic } = await import("./lint.ts");
  const result = lintTopology(await readTopologyText(file), file);
  if (result.diagnostics.length) console.error(result.diagnostics.map(formatDiagnostic).join("\n"));
  return hasErrors(result.diagnostics) ? undefined : result;
}

/** runCommand, plus: a FILE that cannot be read is exit 2 with one line, as a usage mistake is. */
function guarded(run: () => Promise<number>): Promise<number> {
  return runCommand(async () => {
    try {
      return await run();
    } catch (e) {
      if (
        e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied ||
        e instanceof Deno.errors.IsADirectory
      ) {
        console.error(`cannot read: ${(e as Error).message}`);
        return 2;
      }
      throw e;
    }
  });
}

/**
 * The status commands' shared start: FILE's topology when a FILE is given (its diagnostics go to
 * stderr, and a FILE with errors is exit 1 before `run`), undefined without one, which means the
 * store's own topology. Errors as {@link guarded}.
 */
function withOptionalTopology(
  file: string | undefined,
  run: (topology: Topology | undefined) => Promise<number>,
): Promise<number> {
  return guarded(async () => {
    if (file === undefined) return await run(undefined);
    const result = await loadClean(file);
    return result ? await run(result.topology) : 1;
  });
}

/** `ratchet lint [--format text|json] FILE...`: compiler-style diagnostics, exit 1 on any error. */
export function lintCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values, positionals } = parseCommand(argv, USAGE.lint, { format: { type: "string" } }, [1]);
    const format = (values.format as string | undefined) ?? "text";
    if (format !== "text" && format !== "json") {
      throw new UsageError(USAGE.lint, `unknown format "${format}"`);
    }
    const { lintTopology, hasErrors, formatDiagnostic } = await import("./lint.ts");
    const all: Diagnostic[] = [];
    for (const file of positionals) all.push(...lintTopology(await readTopologyText(file), file).diagnostics);
    if (format === "json") console.log(JSON.stringify(all, null, 2));
    else if (all.length) console.log(all.map(formatDiagnostic).join("\n"));
    if (format === "text" && all.length) {
      const errors = all.filter((d) => d.severity === "error").length;
      console.error(`${errors} error(s), ${all.length - errors} warning(s)`);
    }
    return hasErrors(all) ? 1 : 0;
  });
}

const RENDER_TARGETS = ["pod-specs", "store", "cni-config", "dot", "svg"] as const;

/**
 * `ratchet render FILE --to pod-specs|store|cni-config|dot|svg [--node NODE] [STORE FLAGS]`, to
 * stdout. With a store flag, a picture colours each link by its state in that store.
 */
export function renderCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values, positionals } = parseCommand(argv, USAGE.render, {
      ...STORE_FLAGS,
      to: { type: "string" },
      node: { type: "string" },
    }, 1);
    const to = values.to as typeof RENDER_TARGETS[number] | undefined;
    if (to === undefined || !RENDER_TARGETS.includes(to)) {
      throw new UsageError(USAGE.render, to === undefined ? "--to is required" : `unknown --to "${to}"`);
    }
    const withStore = Object.keys(STORE_FLAGS).some((flag) => values[flag] !== undefined);
    if (withStore && to !== "dot" && to !== "svg") {
      throw new UsageError(USAGE.render, `a store colours pictures only: --to dot or --to svg`);
    }
    const result = await loadClean(positionals[0]);
    if (!result) return 1;
    const filter = { node: values.node as string | undefined };
    if (filter.node !== undefined && !result.topology.nodes.some((n) => n.name === filter.node)) {
      throw new UsageError(USAGE.render, `no node "${filter.node}" in ${positionals[0]}`);
    }
    if (to === "pod-specs") {
      const { renderPodSpecs } = await import("./render_pods.ts");
      await writeOut(await renderPodSpecs(result.topology, filter));
    } else if (to === "store") {
      const { topologyToStore } = await import("./render_store.ts");
      await writeOut(
        JSON.stringify(Object.fromEntries(topologyToStore(result.topology, filter)), null, 2) + "\n",
      );
    } else if (to === "cni-config") {
      const { renderCniConfig } = await import("./render_cni.ts");
      await writeOut(JSON.stringify(renderCniConfig(result.topology, filter), null, 2) + "\n");
    } else {
      const draw = (store?: ListingStore) => filePicture(result.topology, filter.node, store);
      const picture = withStore ? await withFlagStore(values, draw) : await draw();
      await writeOut(await drawPicture(picture, to));
    }
    return 0;
  });
}

/** A file's picture, only what touches `node` when given, with the store's states when given one. */
async function filePicture(topo: Topology, node: string | undefined, store?: ListingStore): Promise<Picture> {
  const { topologyPicture } = await import("./render_picture.ts");
  let picture = topologyPicture(topo);
  if (node !== undefined) {
    const on = new Set(picture.pods.filter((p) => p.node === node).map((p) => p.id));
    const links = picture.links.filter((l) => on.has(l.a.pod) || on.has(l.b.pod));
    const shown = new Set([...on, ...links.flatMap((l) => [l.a.pod, l.b.pod])]);
    const pods = picture.pods.filter((p) => shown.has(p.id));
    const nodes = picture.nodes.filter((n) => pods.some((p) => p.node === n.name));
    picture = { ...picture, nodes, pods, links };
  }
  if (!store) return picture;
  const { withStoreStates, RATCHET_PREFIX } = await import("../mod/picture/from_store.ts");
  return withStoreStates(picture, await store.list(RATCHET_PREFIX));
}

/** DOT or SVG text; only SVG loads the layout library. */
async function drawPicture(picture: Picture, to: "dot" | "svg"): Promise<string> {
  if (to === "dot") return (await import("../mod/picture/dot.ts")).renderDot(picture);
  return (await import("../mod/picture/svg.ts")).renderSvg(picture);
}

async function writeOut(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
}

/** `ratchet apply FILE [--prune]` against an opened store: prints each put and delete. */
export function applyCommand(file: string, store: KvStore, opts: { prune: boolean }): Promise<number> {
  return guarded(async () => {
    const result = await loadClean(file);
    if (!result) return 1;
    const { applyTopology } = await import("./apply.ts");
    const done = await applyTopology(result.topology, store, opts);
    for (const k of done.put) console.log(`put     ${k}`);
    for (const k of done.deleted) console.log(`delete  ${k}`);
    console.log(`${done.put.length} written, ${done.deleted.length} deleted, ${done.unchanged} unchanged`);
    return 0;
  });
}

/**
 * `ratchet status [FILE] --svg`: the picture instead of the report: FILE's topology, or without one
 * the store's own, links coloured by their state in the store.
 */
export function statusPictureCommand(file: string | undefined, store: ListingStore): Promise<number> {
  return withOptionalTopology(file, async (topology) => {
    let picture;
    if (topology) picture = await filePicture(topology, undefined, store);
    else {
      const { storePicture, RATCHET_PREFIX } = await import("../mod/picture/from_store.ts");
      picture = storePicture(await store.list(RATCHET_PREFIX));
    }
    await writeOut(await drawPicture(picture, "svg"));
    return 0;
  });
}

/** `ratchet status [FILE]`: what apply owns in the store; with FILE, exit 1 when it differs. */
export function statusCommand(file: string | undefined, store: KvStore): Promise<number> {
  return withOptionalTopology(file, async (topology) => {
    const { topologyStatus, formatStatus } = await import("./apply.ts");
    const report = await topologyStatus(store, topology);
    console.log(formatStatus(report));
    return report.inSync === false ? 1 : 0;
  });
}
