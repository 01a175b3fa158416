/**
 * What `anchor install` changed on the node, so `anchor uninstall` can put it back: which shims
 * exist, which address each took from its master, and which of the master's routes went with it.
 */
import { writeFileAtomic } from "./files.ts";

/** Where the record lives unless --state-file says otherwise: outside the CNI conf dir, which runtimes scan. */
export const DEFAULT_STATE_FILE = "/var/lib/cni/anchor/install.json";

/** A route as recorded, enough to add it back. */
export interface SavedRoute {
  dst: string;
  gw?: string;
  metric?: number;
}

/** One shim and what it took from its master. */
export interface ShimRecord {
  name: string;
  master: string;
  /** "ip/prefix" the shim carries. */
  address: string;
  /** True when the address was on the master and install removed it there. */
  movedAddress: boolean;
  /** The master's routes (other than the kernel's own) before the address left it. */
  masterRoutes: SavedRoute[];
  /** The master's promiscuous flag before install, restored by uninstall. */
  promiscBefore: boolean;
}

/** The whole record. */
export interface InstallState {
  version: 1;
  node: string;
  shims: ShimRecord[];
  /** The config file install wrote, removed by uninstall when it is still ours. */
  configFile?: string;
}

/** The record, or an empty one when install never ran (or uninstall already cleaned up). */
export function readState(path: string, node: string): InstallState {
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(path));
    if (parsed?.version === 1 && Array.isArray(parsed.shims)) return parsed as InstallState;
    throw new Error(`${path} is not an anchor install record`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { version: 1, node, shims: [] };
    throw e;
  }
}

/** Saves the record atomically; written after every shim, so a crash mid-install loses nothing. */
export function writeState(path: string, state: InstallState): void {
  writeFileAtomic(path, JSON.stringify(state, null, 2) + "\n", 0o600);
}
