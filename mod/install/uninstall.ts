/**
 * `anchor uninstall`: the reverse of install. The config goes first, so no new pod lands on a
 * node being taken apart; then each shim gives its master back its address and routes.
 */
import { ownedOrAbsent, removeIfPresent } from "./files.ts";
import type { InstallOptions } from "./options.ts";
import { readState, writeState } from "./state.ts";

/** Runs the uninstall and returns the lines of its report; running it twice is harmless. */
export async function uninstall(opts: InstallOptions): Promise<string[]> {
  const report: string[] = [];
  const state = readState(opts.stateFile, opts.nodeName);
  const confPath = state.configFile ?? `${opts.confDir}/${opts.confFile}`;
  if (ownedOrAbsent(confPath)) {
    if (removeIfPresent(confPath)) report.push(`removed ${confPath}`);
  } else {
    report.push(`left ${confPath} alone: anchor install did not write it`);
  }
  if (state.shims.length) {
    const { Handle } = await import("../netlink/mod.ts");
    const { removeShim } = await import("./shim.ts");
    const h = Handle.open();
    try {
      for (const record of [...state.shims].reverse()) {
        removeShim(h, record);
        state.shims = state.shims.filter((s) => s !== record);
        writeState(opts.stateFile, state);
        report.push(`removed ${record.name}; ${record.master} has ${record.address} back`);
      }
    } finally {
      h.close();
    }
  }
  removeIfPresent(opts.stateFile);
  return report;
}
