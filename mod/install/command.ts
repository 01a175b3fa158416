/** The `anchor install` and `anchor uninstall` commands, for the anchor role's command table. */
import { lazy } from "../lazy.ts";
import type { Command } from "../role.ts";
import { INSTALL_USAGE } from "./usage.ts";

async function runWith(args: string[], verb: "install" | "uninstall"): Promise<number> {
  const { runCommand } = await lazy<typeof import("../cli.ts")>(new URL("../cli.ts", import.meta.url))();
  return await runCommand(async () => {
    const { parseInstallOptions } = await lazy<typeof import("./options.ts")>(
      new URL("./options.ts", import.meta.url),
    )();
    const env = Deno.env.toObject();
    const opts = parseInstallOptions(
      args,
      env,
      `anchor ${(verb === "install" ? installCommand : uninstallCommand).usage}`,
    );
    const lines = verb === "install"
      ? await (await lazy<typeof import("./install.ts")>(new URL("./install.ts", import.meta.url))()).install(
        opts,
        env,
      )
      : await (await lazy<typeof import("./uninstall.ts")>(new URL("./uninstall.ts", import.meta.url))())
        .uninstall(opts);
    for (const line of lines) console.log(line);
    if (verb === "install" && opts.wait) await untilSignalled();
    return 0;
  });
}

/** A DaemonSet container must keep running once its work is done; it leaves the node as it is on exit. */
function untilSignalled(): Promise<void> {
  return new Promise((done) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => done());
  });
}

/** `anchor install`: binaries, shims, credentials and the CNI config for this node. */
export const installCommand: Command = {
  usage: INSTALL_USAGE,
  summary:
    "prepare this node: copy the program into the CNI bin dir, create the acrNN shims from CLUSTER_NETWORK, " +
    "write the CNI config (never replacing one anchor did not write, unless --force)",
  run: (args) => runWith(args, "install"),
};

/** `anchor uninstall`: the reverse of install, from its record. */
export const uninstallCommand: Command = {
  usage: "uninstall [--conf-dir DIR] [--conf-file NAME] [--state-file F]",
  summary:
    "undo install: remove our CNI config and the shims, giving each master its address and routes back",
  run: (args) => runWith(args, "uninstall"),
};
