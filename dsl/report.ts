/** Collects diagnostics for one file. */
import type { Diagnostic, Pos } from "./types.ts";

/** The sink the parser and the checks write into; every finding is kept, none stops the run. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string) {}

  error(pos: Pos, code: string, message: string): void {
    this.diagnostics.push({
      file: this.file,
      line: pos.line,
      col: pos.col,
      severity: "error",
      code,
      message,
    });
  }

  warn(pos: Pos, code: string, message: string): void {
    this.diagnostics.push({
      file: this.file,
      line: pos.line,
      col: pos.col,
      severity: "warning",
      code,
      message,
    });
  }

  /** Diagnostics in source order (stable, so equal positions keep the order they were found in). */
  sorted(): Diagnostic[] {
    return this.diagnostics.slice().sort((a, b) => a.line - b.line || a.col - b.col);
  }
}
