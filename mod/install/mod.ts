/**
 * Preparing a node: `anchor install` and `anchor uninstall`, and the pieces they are made of.
 * @module
 */
export { installCommand, uninstallCommand } from "./command.ts";
export {
  ClusterNetworkError,
  type ClusterNetworkItem,
  itemsForNode,
  MAX_SHIMS,
  octopusMap,
  parseClusterNetwork,
  shimName,
} from "./cluster_network.ts";
export {
  ForeignConfigError,
  GENERATED_BY,
  installBinaries,
  ownedOrAbsent,
  writeFileAtomic,
} from "./files.ts";
export { install } from "./install.ts";
export { type InstallOptions, parseInstallOptions } from "./options.ts";
export { type AnchorMode, generatedBy, renderConflist, type RenderInput } from "./render.ts";
export { MasterNotFoundError, ShimConflictError } from "./shim.ts";
export { DEFAULT_STATE_FILE, type InstallState, readState, type ShimRecord } from "./state.ts";
export { uninstall } from "./uninstall.ts";
