/** `anchor release CONTAINER_ID [--ifname IFNAME]`: what DEL does, for a person cleaning up by hand. */
import { release } from "../../ipam/mod.ts";
import { parseCommand, runCommand, STORE_FLAGS, withFlagStore } from "../../cli.ts";

const USAGE = "anchor release CONTAINER_ID [--ifname IFNAME] [STORE FLAGS]";

/** Releases and says what; exits 1 when the container held nothing, so a typo in the ID shows. */
export function releaseCommand(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals: [id] } = parseCommand(args, USAGE, {
      ...STORE_FLAGS,
      ifname: { type: "string" },
    }, 1);
    const ifname = typeof values.ifname === "string" ? values.ifname : undefined;
    const released = await withFlagStore(values, (store) => release(store, id, ifname));
    if (released.length === 0) {
      console.error(`no allocation for container ${id}${ifname ? ` interface ${ifname}` : ""}`);
      return 1;
    }
    for (const r of released) {
      console.log(
        `released ${r.ip || "(unreadable record)"} of container ${r.containerId}${
          r.ifname ? ` interface ${r.ifname}` : ""
        }`,
      );
    }
    return 0;
  });
}
