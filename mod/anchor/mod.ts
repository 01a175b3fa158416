/**
 * The anchor role: the IPAM plugin (also callable in process by a main plugin), its config and the
 * `anchor` commands.
 * @module
 */
export { type AnchorIpam, anchorIpam, anchorPlugin } from "./plugin.ts";
export { type AnchorConf, ANNOTATION_PREFIX, loadAnchorConf } from "./config.ts";
export {
  GATEWAY_ANNOTATION,
  parseRoutes,
  type PodNetwork,
  podNetwork,
  ROUTES_ANNOTATION,
  SUBNET_ANNOTATION,
} from "./annotations.ts";
export { anchorCniError } from "./errors.ts";
export { NO_CONTROLLER, type PodInfo, podInfo } from "./pod.ts";
export { ipamResult } from "./result.ts";
export { main, role } from "./main.ts";
