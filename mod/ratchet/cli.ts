/**
 * `ratchet apply` and `ratchet status`: the DSL's store commands (dsl/cli.ts) with the store flags
 * every store command takes (mod/cli.ts), and, for status, ratchet's links as monkey shows them
 * (or, with --svg, their picture).
 */
import { parseCommand, runCommand, STORE_FLAGS, withFlagStore } from "../cli.ts";
import { STORE_USAGE } from "./main.ts";

const USAGE = {
  apply: `ratchet apply FILE [--prune] ${STORE_USAGE}`,
  status: `ratchet status [FILE] [--svg] ${STORE_USAGE}`,
};

/** `ratchet apply FILE [--prune] [STORE FLAGS]`. */
export function apply(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals: [file] } = parseCommand(
      args,
      USAGE.apply,
      { ...STORE_FLAGS, prune: { type: "boolean" } },
      1,
    );
    const { applyCommand } = await import("../../dsl/cli.ts");
    return await withFlagStore(
      values,
      (store) => applyCommand(file, store, { prune: values.prune === true }),
    );
  });
}

/**
 * `ratchet status [FILE] [--svg] [STORE FLAGS]`: the DSL's status, then every link with its
 * condition; with --svg, the topology's picture instead, links coloured by state.
 */
export function status(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals: [file] } = parseCommand(
      args,
      USAGE.status,
      { ...STORE_FLAGS, svg: { type: "boolean" } },
      [0, 1],
    );
    if (values.svg) {
      const { statusPictureCommand } = await import("../../dsl/cli.ts");
      return await withFlagStore(values, (store) => statusPictureCommand(file, store));
    }
    const [{ statusCommand }, { formatLinks, linkViews, RATCHET_PREFIX }] = await Promise.all([
      import("../../dsl/cli.ts"),
      import("./link_view.ts"),
    ]);
    return await withFlagStore(values, async (store) => {
      const code = await statusCommand(file, store);
      if (code !== 2) console.log(formatLinks(linkViews(await store.list(RATCHET_PREFIX))));
      return code;
    });
  });
}
