/**
 * The command-line toolkit every command for people shares (`anchor ls|pool|gw|release|monkey|
 * install|uninstall`, `ratchet lint|render|apply|status`): node:util `parseArgs`, one
 * {@link UsageError} printed with its usage line and exit status 2, the store the `--store` /
 * `--etcd-*` flags name, verbs, and plain tables.
 *
 * Exit statuses: 0 done, 1 the command ran and failed (runRole prints the message), 2 it was
 * called wrongly (an unknown flag, a flag without its value, a wrong number of arguments).
 *
 * @example
 * ```ts
 * export const ls = (args: string[]) =>
 *   runCommand(async () => {
 *     const { values } = parseCommand(args, "anchor ls [--json]", { ...STORE_FLAGS, json: { type: "boolean" } }, 0);
 *     const kvs = await withFlagStore(values, (store) => store.list("/anchor/cn/"));
 *     ...
 *   });
 * ```
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { storeFlagOptions, storeSettingsFromFlags } from "./store/settings.ts";
import type { Store } from "./store/mod.ts";

/** A command's own flags, in node:util `parseArgs` form. */
export type Flags = NonNullable<ParseArgsConfig["options"]>;

/** The flags every store command takes (`--store DIR`, `--etcd-endpoints URLS`, ...); spread into {@link Flags}. */
export const STORE_FLAGS: Flags = storeFlagOptions;

/** Parsed flag values; a `multiple` flag gives an array. */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A command's parsed arguments. */
export interface ParsedCommand {
  values: Values;
  positionals: string[];
}

/** A mistake in how a command was called. {@link runCommand} prints the message, then `usage: <usage>`, and exits 2. */
export class UsageError extends Error {
  /**
   * @param usage the whole command line, e.g. `anchor ls [--json] [STORE FLAGS]`
   * @param problem what was wrong, e.g. `Unknown option '--bogus'`
   */
  constructor(readonly usage: string, problem: string) {
    super(problem);
    this.name = "UsageError";
  }
}

/**
 * Parses `args` strictly: unknown flags, a string flag without its value and, when `positionals`
 * is given, a different number of arguments are usage errors.
 *
 * @param usage the command line shown with a usage error
 * @param positionals how many arguments the command takes, or `[min, max]` (`[min]`: no limit); any
 *   number when absent
 * @throws UsageError
 */
export function parseCommand(
  args: string[],
  usage: string,
  flags: Flags = {},
  positionals?: number | [min: number, max?: number],
): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({ args, options: flags, allowPositionals: true, strict: true });
  } catch (e) {
    // node's advice on positionals that start with '-' helps no one who mistyped a flag.
    throw new UsageError(usage, (e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const n = parsed.positionals.length;
  const [min, max = Infinity] = typeof positionals === "number"
    ? [positionals, positionals]
    : positionals ?? [0];
  if (n < min || n > max) {
    const want = min === max
      ? `${min}`
      : max === Infinity
      ? `at least ${min}`
      : min === 0
      ? `at most ${max}`
      : `${min} to ${max}`;
    throw new UsageError(
      usage,
      `expected ${want} argument${(max === Infinity ? min : max) === 1 ? "" : "s"}, got ${n}`,
    );
  }
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

/** Opens the store the {@link STORE_FLAGS} in `values` name (the default file store without any), runs `fn`, closes it. */
export async function withFlagStore<T>(values: Values, fn: (store: Store) => Promise<T>): Promise<T> {
  // Loaded here, not above: lint and render need no store, and etcd's client is heavy.
  const { withStore } = await import("./store/with_store.ts");
  return await withStore(storeSettingsFromFlags(values), fn);
}

/**
 * Runs a command body and returns its exit status; a {@link UsageError} is printed with its usage
 * line and gives 2. Anything else propagates to runRole, which prints its message and exits 1.
 */
export async function runCommand(body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\nusage: ${e.usage}`);
    return 2;
  }
}

/**
 * A command with verbs (`anchor pool set`, `anchor pool ls`): the first argument picks the verb.
 * @example export const gw = subcommands("anchor gw", USAGE, { set, ls: list });
 */
export function subcommands(
  name: string,
  usage: string,
  verbs: Record<string, (args: string[]) => Promise<number>>,
): (args: string[]) => Promise<number> {
  return (args) =>
    runCommand(() => {
      const [verb, ...rest] = args;
      const run = verb === undefined ? undefined : Object.hasOwn(verbs, verb) ? verbs[verb] : undefined;
      if (!run) {
        const known = Object.keys(verbs).join(" or ");
        throw new UsageError(
          usage,
          verb === undefined ? `missing ${known}` : `unknown ${name} command ${JSON.stringify(verb)}`,
        );
      }
      return run(rest);
    });
}

/**
 * Left-aligned columns two spaces apart, the header first, then with `rule` a line of dashes under
 * it; an empty cell shows as `empty` ("-" unless given).
 */
export function table(
  header: string[],
  rows: string[][],
  opts: { rule?: boolean; empty?: string } = {},
): string {
  const body = rows.map((r) => r.map((c) => c || (opts.empty ?? "-")));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...(opts.rule ? [line(widths.map((w) => "-".repeat(w)))] : []), ...body.map(line)]
    .join("\n");
}

/** Prints JSON or a table, as `--json` asks. */
export function print(json: boolean, data: unknown, header: string[], rows: string[][]): void {
  console.log(json ? JSON.stringify(data, null, 2) : table(header, rows));
}
