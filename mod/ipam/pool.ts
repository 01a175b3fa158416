/** A namespace's pool as stored at `/anchor/ns/<namespace>`, read with mod/ip's range grammar. */
import { type IpRange, parseRanges } from "../ip/ranges.ts";
import { PoolSyntaxError } from "./errors.ts";

/**
 * Parses a pool string, refusing it whole when any item is malformed: allocating from the items that
 * happen to parse would hide a typo until the pool runs dry.
 * @param where names the pool in messages, e.g. "pool /anchor/ns/default".
 * @throws PoolSyntaxError listing every malformed item.
 * @example parsePool("10.0.1.[2-9],10.0.2.8", "pool /anchor/ns/default")
 */
export function parsePool(text: string, where: string): IpRange[] {
  const parsed = parseRanges(text);
  if (parsed.errors.length) throw new PoolSyntaxError(where, parsed.errors);
  return parsed.ranges;
}
