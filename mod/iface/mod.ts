/**
 * Putting a CNI result on an interface, and checking it is still there: the one implementation
 * octopus and ratchet share (containernetworking's pkg/ipam ConfigureIface and its CHECK side).
 *
 * @example
 * import { checkIface, configureIface } from "../iface/mod.ts";
 * const link = configureIface(podHandle, "eth0", result);   // ADD
 * checkIface(podHandle, "eth0", prevResult);                  // CHECK, throws code 105
 * @module
 */
export { configureIface, type ConfigureOptions, IfaceMissingError } from "./configure.ts";
export { checkIface, IfaceCheckError } from "./check.ts";
export { ipsFor, routeGateway } from "./select.ts";
