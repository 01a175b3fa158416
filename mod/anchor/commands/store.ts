/** `anchor store dump [--json]`: every key of the store, with its value and revisions, for people. */
import { parseCommand, print, runCommand, STORE_FLAGS, subcommands, withFlagStore } from "../../cli.ts";

const USAGE = "anchor store dump [--json] [STORE FLAGS]";

/**
 * Prints every key and value (JSON: `[{key, value, createRevision, modRevision, version}]`, sorted by
 * key), on either backend; for hand edits of the embedded store, README shows sqlite3.
 */
function dump(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values } = parseCommand(args, USAGE, { ...STORE_FLAGS, json: { type: "boolean" } }, 0);
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

/** `anchor store`: its one verb, dump. */
export const storeCommand = subcommands("anchor store", USAGE, { dump });
