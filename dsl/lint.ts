/** Parse and validate in one call, and the compiler-style text of a diagnostic. */
import { checkTopology } from "./check.ts";
import { parseStatements } from "./parse.ts";
import { Reporter } from "./report.ts";
import type { Diagnostic, LintResult } from "./types.ts";

/**
 * Parses and checks a topology, returning the model and every diagnostic, in source order.
 * Never throws on any input text; a model with errors is partial and must not be applied.
 *
 * @example
 * ```ts
 * const { topology, diagnostics } = lintTopology(await Deno.readTextFile("lab.topo"), "lab.topo");
 * if (hasErrors(diagnostics)) console.error(diagnostics.map(formatDiagnostic).join("\n"));
 * ```
 */
export function lintTopology(text: string, file = "<input>"): LintResult {
  const r = new Reporter(file);
  const topology = parseStatements(text, r);
  checkTopology(topology, r);
  return { topology, diagnostics: r.sorted() };
}

/** True when any diagnostic is an error. */
export function hasErrors(diagnostics: Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** `FILE:LINE:COL: error: message [code]`, the form editors and CI annotators recognise. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message} [${d.code}]`;
}

/** Thrown by render and apply when the topology has errors; `diagnostics` holds them all. */
export class TopologyError extends Error {
  constructor(readonly file: string, readonly diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(`${file}: ${errors.length} error(s), first: ${errors[0] ? formatDiagnostic(errors[0]) : "none"}`);
    this.name = "TopologyError";
  }
}
