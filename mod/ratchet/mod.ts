/**
 * ratchet: point-to-point links between pods (veth on one node, vxlan across nodes) as a CNI meta
 * plugin, its child process, and the pieces both use.
 * @module
 */
export {
  DEFAULT_CHILD_TIMEOUT_S,
  DEFAULT_VNI_START,
  loadRatchetConf,
  MAX_VNI,
  type NestedConf,
  type RatchetConf,
} from "./conf.ts";
export {
  type AttachRecord,
  type ChildRecord,
  type ContainerRecord,
  type EndRecord,
  type EndState,
  KEY,
  type LinkState,
  parseRecord,
} from "./keys.ts";
export {
  type Declaration,
  declarationsOf,
  endKey,
  type EndRef,
  linkId,
  type PodLink,
  type PodRef,
  RANK,
  resolveLinks,
  topologyDeclaration,
} from "./resolve.ts";
export { type PodMeta, podMeta } from "./pod_meta.ts";
export {
  attachRecord,
  containerRecord,
  recordContainer,
  register,
  unregister,
  updateRecord,
} from "./register.ts";
export {
  CLAIM_TTL_MS,
  gatherLinks,
  type MadeEnd,
  settle,
  type SettleOptions,
  type SettleOutcome,
  type Settler,
} from "./settle.ts";
export { openIfExists, releaseEnds, sweepPrevious } from "./release.ts";
export {
  checkEnd,
  clearStale,
  type EndExpectation,
  type EndPlan,
  makeVeth,
  makeVxlan,
  removeEnd,
  underlayAddress,
  VXLAN_PORT,
  type VxlanPlan,
} from "./plumb.ts";
export { checkEnds } from "./check.ts";
export {
  CHILD_COMMAND,
  CHILD_NAME,
  childCommand,
  type ChildRequest,
  hasLiveChild,
  isChildOf,
  spawnChild,
  stopChild,
} from "./child.ts";
export { childWait } from "./child_run.ts";
export { splitStoreFlags, withFlagStore } from "./cli.ts";
export { ratchetPlugin } from "./plugin.ts";
export { collectGarbage } from "./gc.ts";
export { type ChangeFeed, type Interest, openFeed } from "./feed.ts";
export { role as ratchetRole } from "./main.ts";
export { role as ratchetChildRole } from "./child_main.ts";
