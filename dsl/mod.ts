/**
 * The topology DSL: parse and lint a file into a typed model, render it to pod specs, store keys
 * or CNI configs or a picture, and apply it to a store. The grammar is in README, "The topology DSL".
 * @module
 */
export type * from "./types.ts";
export { formatDiagnostic, hasErrors, lintTopology, TopologyError } from "./lint.ts";
export { podLinkEnds } from "./pod_links.ts";
export { KEYS, type RenderFilter, subnetGateways, topologyToStore } from "./render_store.ts";
export { POD_IMAGE, podObjects, renderPodSpecs } from "./render_pods.ts";
export { RENDER_CNI_VERSION, renderCniConfig } from "./render_cni.ts";
export { topologyPicture } from "./render_picture.ts";
export {
  type ApplyResult,
  applyTopology,
  formatStatus,
  isManagedKey,
  type KeyState,
  type KvStore,
  type StatusEntry,
  type StatusReport,
  topologyStatus,
} from "./apply.ts";
export { DEFAULT_TOPOLOGY, DEFAULT_TOPOLOGY_NAME } from "./default_topology.ts";
export { applyCommand, lintCommand, readTopologyText, renderCommand, statusCommand } from "./cli.ts";
