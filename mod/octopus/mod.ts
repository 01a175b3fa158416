/**
 * octopus, the macvlan main plugin over several masters: config, master choice and the plugin.
 * @module
 */
export {
  loadOctopusConf,
  MACVLAN_MODES,
  type MacvlanMode,
  type MasterEntry,
  type OctopusConf,
} from "./config.ts";
export { MasterDownError, MasterMissingError, NoAddressError, UnknownSubnetError } from "./errors.ts";
export { chooseMaster, masterForAddress, masterForSubnet } from "./master.ts";
export { octopusPlugin } from "./plugin.ts";
export { subnetAnnotation } from "./pod.ts";
