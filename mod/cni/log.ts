/**
 * Structured logging to a file named in the config (`log_file`, `log_level`).
 *
 * Stdout belongs to the protocol, so nothing is ever written there; with no file configured,
 * logging is silent. Field names that look like secrets are redacted before writing.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET = /pass(word)?|token|secret|key_?data|private/i;

interface LogTarget {
  file?: string;
  level: number;
  base: Record<string, unknown>;
}

const target: LogTarget = { level: LEVELS.info, base: {} };

/** Points the log at a file; `base` fields (role, container) go on every line. */
export function configureLog(opts: { file?: string; level?: string; base?: Record<string, unknown> }): void {
  if (opts.file !== undefined) target.file = opts.file || undefined;
  if (opts.level && opts.level in LEVELS) target.level = LEVELS[opts.level as LogLevel];
  if (opts.base) target.base = { ...target.base, ...opts.base };
}

function write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (!target.file || LEVELS[level] < target.level) return;
  const line = JSON.stringify({
    time: new Date().toISOString(),
    level,
    pid: Deno.pid,
    ...target.base,
    msg,
    ...redact(fields),
  });
  try {
    Deno.writeTextFileSync(target.file, line + "\n", { append: true, create: true });
  } catch {
    // A broken log file must never fail the network operation it describes.
  }
}

function redact(fields?: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!fields) return fields;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET.test(k) ? "[redacted]" : v;
  return out;
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
};
