/** What the `anchor` commands share: flag parsing with the store flags, the store, and plain tables. */
import { parseArgs } from "node:util";
import { type Store, storeFlagOptions, storeSettingsFromFlags, withStore } from "../store/mod.ts";

type Options = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

/** A command's parsed arguments; `values` holds the store flags too. */
export interface ParsedCommand {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** A mistake in how a command was called; the message says what is expected. */
export class UsageError extends Error {
  constructor(readonly usage: string, problem: string) {
    super(`${problem}\nusage: anchor ${usage}`);
    this.name = "UsageError";
  }
}

/**
 * Parses a command line with the store flags (mod/store's storeFlagOptions) and the command's own.
 * @throws UsageError for unknown flags or a wrong number of arguments.
 */
export function parseCommand(
  args: string[],
  usage: string,
  positionals: number,
  options: Options = {},
): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...storeFlagOptions, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(usage, (e as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(
      usage,
      `expected ${positionals} argument${positionals === 1 ? "" : "s"}, got ${parsed.positionals.length}`,
    );
  }
  return { values: parsed.values as ParsedCommand["values"], positionals: parsed.positionals };
}

/** Opens the store the flags name (the default file store without any), runs `fn`, closes it. */
export function withFlagStore<T>(
  values: ParsedCommand["values"],
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  return withStore(storeSettingsFromFlags(values), fn);
}

/** Left-aligned columns two spaces apart, the header first; empty cells show as "-". */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows.map((r) => r.map((c) => c || "-"))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ")).join(
    "\n",
  );
}

/** Prints JSON or a table, as `--json` asks. */
export function print(json: boolean, data: unknown, header: string[], rows: string[][]): void {
  console.log(json ? JSON.stringify(data, null, 2) : table(header, rows));
}

/** Runs a command body; a UsageError is printed with the usage and exits 2, anything else goes to runRole. */
export async function runCommand(body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(e.message);
    return 2;
  }
}

/**
 * A command with verbs (`pool set`, `pool ls`): the first argument picks the verb.
 * @example export const gw = subcommands("gw", USAGE, { set, ls: list });
 */
export function subcommands(
  name: string,
  usage: string,
  verbs: Record<string, (args: string[]) => Promise<number>>,
): (args: string[]) => Promise<number> {
  return (args) =>
    runCommand(() => {
      const [verb, ...rest] = args;
      const run = verb === undefined ? undefined : verbs[verb];
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
