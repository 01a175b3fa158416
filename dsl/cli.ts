/**
 * The DSL's commands as functions the program's CLI wires up: each takes its arguments, prints to
 * stdout/stderr and returns the exit code (0 fine, 1 topology errors, 2 usage or unreadable input).
 */
import { parseArgs } from "node:util";
import type { KvStore } from "./apply.ts";
import type { Diagnostic, LintResult } from "./types.ts";

const USAGE = {
  lint: "usage: ratchet lint [--format text|json] FILE...   (FILE may be @default or -)",
  render: "usage: ratchet render FILE --to pod-specs|store|cni-config [--node NODE]",
  apply: "usage: ratchet apply FILE [--prune]",
  status: "usage: ratchet status [FILE]",
};

/** Thrown for bad arguments; the command prints it with its usage and returns 2. */
export class UsageError extends Error {
  constructor(readonly usage: string, message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function args<T extends Record<string, { type: "string" | "boolean" }>>(
  usage: string,
  argv: string[],
  options: T,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(usage, (e as Error).message);
  }
}

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

async function guarded(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n${e.usage}`);
      return 2;
    }
    if (
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.IsADirectory
    ) {
      console.error(`cannot read: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
}

/** `ratchet lint [--format text|json] FILE...`: compiler-style diagnostics, exit 1 on any error. */
export function lintCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values, positionals } = args(USAGE.lint, argv, { format: { type: "string" } });
    const format = values.format ?? "text";
    if (format !== "text" && format !== "json") {
      throw new UsageError(USAGE.lint, `unknown format "${format}"`);
    }
    if (positionals.length === 0) throw new UsageError(USAGE.lint, "no FILE given");
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

/** `ratchet render FILE --to pod-specs|store|cni-config [--node NODE]`, to stdout. */
export function renderCommand(argv: string[]): Promise<number> {
  return guarded(async () => {
    const { values, positionals } = args(USAGE.render, argv, {
      to: { type: "string" },
      node: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError(USAGE.render, "exactly one FILE is needed");
    const to = values.to;
    if (to !== "pod-specs" && to !== "store" && to !== "cni-config") {
      throw new UsageError(USAGE.render, to === undefined ? "--to is required" : `unknown --to "${to}"`);
    }
    const result = await loadClean(positionals[0]);
    if (!result) return 1;
    const filter = { node: values.node };
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
    } else {
      const { renderCniConfig } = await import("./render_cni.ts");
      await writeOut(JSON.stringify(renderCniConfig(result.topology, filter), null, 2) + "\n");
    }
    return 0;
  });
}

async function writeOut(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
}

/** `ratchet apply FILE [--prune]` against an opened store: prints each put and delete. */
export function applyCommand(argv: string[], store: KvStore): Promise<number> {
  return guarded(async () => {
    const { values, positionals } = args(USAGE.apply, argv, { prune: { type: "boolean" } });
    if (positionals.length !== 1) throw new UsageError(USAGE.apply, "exactly one FILE is needed");
    const result = await loadClean(positionals[0]);
    if (!result) return 1;
    const { applyTopology } = await import("./apply.ts");
    const done = await applyTopology(result.topology, store, { prune: values.prune === true });
    for (const k of done.put) console.log(`put     ${k}`);
    for (const k of done.deleted) console.log(`delete  ${k}`);
    console.log(`${done.put.length} written, ${done.deleted.length} deleted, ${done.unchanged} unchanged`);
    return 0;
  });
}

/** `ratchet status [FILE]`: what apply owns in the store; with FILE, exit 1 when it differs. */
export function statusCommand(argv: string[], store: KvStore): Promise<number> {
  return guarded(async () => {
    const { positionals } = args(USAGE.status, argv, {});
    if (positionals.length > 1) throw new UsageError(USAGE.status, "at most one FILE");
    let topology;
    if (positionals.length === 1) {
      const result = await loadClean(positionals[0]);
      if (!result) return 1;
      topology = result.topology;
    }
    const { topologyStatus, formatStatus } = await import("./apply.ts");
    const report = await topologyStatus(store, topology);
    console.log(formatStatus(report));
    return report.inSync === false ? 1 : 0;
  });
}
