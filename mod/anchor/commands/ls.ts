/** `anchor ls [--json]`: every allocation in the store. */
import { compareIp, parseIp } from "../../ip/mod.ts";
import { readState } from "../../ipam/mod.ts";
import { parseCommand, print, runCommand, STORE_FLAGS, withFlagStore } from "../../cli.ts";

const USAGE = "anchor ls [--json] [STORE FLAGS]";

/** Lists allocations, sorted by address; unreadable records are reported on stderr. */
export function ls(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values } = parseCommand(args, USAGE, { ...STORE_FLAGS, json: { type: "boolean" } }, 0);
    const state = await withFlagStore(values, readState);
    const records = [...state.records.values()].map((s) => s.record).sort((a, b) =>
      compareIp(parseIp(a.ip), parseIp(b.ip))
    );
    print(
      values.json === true,
      records.map(({ id, ...r }) => ({ key: `/anchor/cn/${id}`, ...r })),
      ["CONTAINER", "IFNAME", "IP", "POD", "NAMESPACE", "CONTROLLER", "NODE", "NETWORK", "TIME"],
      records.map((
        r,
      ) => [
        r.containerId,
        r.ifname ?? "",
        r.ip,
        r.podName,
        r.podNamespace,
        r.controller,
        r.node ?? "",
        r.network ?? "",
        r.time ?? "",
      ]),
    );
    for (const e of state.unreadable) console.error(`warning: ${e.message}`);
    return 0;
  });
}
