/**
 * anchor's allocation engine: pure logic over the Store interface and mod/ip, with no CNI in it, so the
 * anchor plugin, octopus (in process), the `anchor` commands and monkey share one implementation.
 *
 * @example
 * ```ts
 * const store = await openStore(storeSettingsFromConfig(ipamConf));
 * try {
 *   const a = await allocate(store, {
 *     containerId, ifname: "eth0", namespace: "default", podName: "web-0", controller: "web",
 *     subnet: checkSubnet("10.0.1.0/24", "annotation cni.anchor.org/subnet"), node: "node01", network: "anchor",
 *   });
 *   console.log(a.record.ip, formatIp(a.gateway));
 * } finally {
 *   await store.close();
 * }
 * ```
 * @module
 */
export { allocate, type AllocateRequest, type Allocation } from "./allocate.ts";
export {
  GatewayError,
  GatewayNotFoundError,
  IpamError,
  type IpamFailure,
  NoPoolError,
  PoolExhaustedError,
  PoolSyntaxError,
  SubnetError,
} from "./errors.ts";
export { type Attachment, collectGarbage, type GcReport, type GcRequest } from "./gc.ts";
export {
  ANCHOR_PREFIX,
  containerOf,
  GATEWAY_PREFIX,
  gatewayKey,
  GUARD_PREFIX,
  GUARDED_KEY,
  guardKey,
  LAST_PREFIX,
  lastKey,
  POOL_PREFIX,
  poolKey,
  RECORD_PREFIX,
  recordId,
  recordKey,
} from "./keys.ts";
export { parsePool } from "./pool.ts";
export {
  type AllocationRecord,
  decodeOrBlank,
  decodeRecord,
  encodeRecord,
  RecordFormatError,
  recordMatches,
} from "./record.ts";
export { release, releaseRecord } from "./release.ts";
export {
  type AnchorState,
  backfillGuards,
  findRecord,
  guardRange,
  readState,
  stateOf,
  storedGateway,
  type StoredRecord,
  usedAddresses,
} from "./state.ts";
export { checkGateway, checkSubnet } from "./subnet.ts";
