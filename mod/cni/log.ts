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

/** Whether the log file has failed yet in this process: a problem is said once on stderr, never again. */
let complained = false;

/**
 * Says once on stderr that the log file cannot be written. Stdout belongs to the protocol, and a
 * logging problem must never fail the network operation, so this is all that happens.
 */
function complain(file: string, e: unknown): void {
  if (complained) return;
  complained = true;
  try {
    const text = `log_file ${file} cannot be written (${(e as Error).message}); logging is off\n`;
    Deno.stderr.writeSync(new TextEncoder().encode(text));
  } catch {
    // stderr is gone too; nothing left to tell
  }
}

/**
 * Points the log at a file, creating its directory when it does not exist; `base` fields (role,
 * container) go on every line. A directory that cannot be made is said once on stderr.
 */
export function configureLog(opts: { file?: string; level?: string; base?: Record<string, unknown> }): void {
  if (opts.file !== undefined && (opts.file || undefined) !== target.file) {
    target.file = opts.file || undefined;
    const dir = target.file?.slice(0, target.file.lastIndexOf("/"));
    if (dir) {
      try {
        Deno.mkdirSync(dir, { recursive: true });
      } catch (e) {
        complain(target.file!, e);
        target.file = undefined;
      }
    }
  }
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
  } catch (e) {
    // A broken log file must never fail the network operation it describes.
    complain(target.file, e);
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
