/** `anchor pool set NAMESPACE RANGES` and `anchor pool ls`. */
import { countRanges, formatRange } from "../../ip/mod.ts";
import { parsePool, POOL_PREFIX, poolKey } from "../../ipam/mod.ts";
import { parseCommand, print, STORE_FLAGS, subcommands, UsageError, withFlagStore } from "../../cli.ts";

const USAGE = "anchor pool set NAMESPACE RANGES | anchor pool ls [--json] [STORE FLAGS]";

/** Stores a pool after checking it with the same parser ADD uses, so a bad item is refused here, not at ADD. */
async function set(args: string[]): Promise<number> {
  const { values, positionals: [namespace, ranges] } = parseCommand(args, USAGE, STORE_FLAGS, 2);
  if (!/^[^\s/,]+$/.test(namespace)) {
    throw new UsageError(USAGE, `${JSON.stringify(namespace)} is not a namespace name`);
  }
  const parsed = parsePool(ranges, `pool for namespace ${namespace}`);
  await withFlagStore(values, (store) => store.put(poolKey(namespace), ranges.trim()));
  console.log(
    `pool of namespace ${namespace}: ${parsed.map(formatRange).join(", ")} (${
      countRanges(parsed)
    } addresses)`,
  );
  return 0;
}

async function list(args: string[]): Promise<number> {
  const { values } = parseCommand(args, USAGE, { ...STORE_FLAGS, json: { type: "boolean" } }, 0);
  const kvs = await withFlagStore(values, (store) => store.list(POOL_PREFIX));
  const pools = kvs.map((kv) => {
    const namespace = kv.key.slice(POOL_PREFIX.length);
    try {
      return {
        namespace,
        ranges: kv.value,
        addresses: countRanges(parsePool(kv.value, `pool of namespace ${namespace}`)).toString(),
      };
    } catch (e) {
      return { namespace, ranges: kv.value, addresses: "", error: (e as Error).message };
    }
  });
  print(
    values.json === true,
    pools,
    ["NAMESPACE", "ADDRESSES", "RANGES"],
    pools.map((p) => [p.namespace, p.error ? "invalid" : p.addresses, p.ranges]),
  );
  for (const p of pools) if (p.error) console.error(`warning: ${p.error}`);
  return 0;
}

/** `pool set` and `pool ls`. */
export const pool = subcommands("anchor pool", USAGE, { set, ls: list });
