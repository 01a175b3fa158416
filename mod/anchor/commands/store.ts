/** `anchor store dump [--json]`: every key of the store, with its value and revisions, for people. */
import { parseCommand, print, runCommand, UsageError, withFlagStore } from "../cli.ts";

const USAGE = "store dump [--json] [STORE FLAGS]";

/**
 * Prints every key and value (JSON: `[{key, value, createRevision, modRevision, version}]`, sorted by
 * key), on either backend; for hand edits of the embedded store, README shows sqlite3.
 */
export function storeCommand(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, USAGE, 1, { json: { type: "boolean" } });
    if (positionals[0] !== "dump") throw new UsageError(USAGE, `unknown subcommand ${positionals[0]}`);
    const kvs = await withFlagStore(values, (store) => store.list(""));
    print(
      values.json === true,
      kvs,
      ["KEY", "MOD", "VERSION", "VALUE"],
      kvs.map((kv) => [kv.key, String(kv.modRevision), String(kv.version), kv.value]),
    );
    return 0;
  });
}
