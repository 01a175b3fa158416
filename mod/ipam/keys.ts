/**
 * The store keys anchor reads and writes. The first three are the original hainesc/anchor's, so a
 * store it filled keeps working; `/anchor/ip/` is ours: the guard that makes an address claim atomic.
 */

/** Everything anchor owns; one `list` of it is a consistent snapshot of pools, gateways and allocations. */
export const ANCHOR_PREFIX = "/anchor/";
/** `/anchor/ns/<namespace>` holds the namespace's pool in the range grammar of mod/ip/ranges.ts. */
export const POOL_PREFIX = "/anchor/ns/";
/** `/anchor/gw/<subnet>` holds the subnet's gateway, e.g. `/anchor/gw/10.0.1.0/24` = `10.0.1.1`. */
export const GATEWAY_PREFIX = "/anchor/gw/";
/** `/anchor/cn/<record id>` holds one allocation (see record.ts for the value). */
export const RECORD_PREFIX = "/anchor/cn/";
/**
 * `/anchor/ip/<address>` holds the record id that owns the address. It is written in the same
 * transaction as the record, with a compare that it is absent, so two claims of one address can never
 * both succeed, whatever process, node or namespace they come from.
 */
export const GUARD_PREFIX = "/anchor/ip/";

/**
 * `/anchor/last/<namespace>/<subnet>` holds the address ADD last claimed from the namespace's pool in the
 * subnet (canonical network text, as in gatewayKey): host-local's last reserved IP. The next ADD probes
 * the pool from the address after it, one guard at a time, so that its cost does not grow with the number
 * of allocations. It is a hint, written in the claim's transaction without a compare, so racing ADDs never
 * retry because of it; an absent, stale or unreadable value only makes ADD start at the pool's first
 * address. The original anchor neither writes nor reads it.
 */
export const LAST_PREFIX = "/anchor/last/";

/**
 * `/anchor/guarded` holds the time every record got its guard (mod/ipam/state.ts backfillGuards): from
 * then on a guard alone says an address is taken, and ADD need not read the records. Deleting it makes
 * the next ADD check every record again.
 */
export const GUARDED_KEY = "/anchor/guarded";

/** The key of a namespace's pool. */
export function poolKey(namespace: string): string {
  return POOL_PREFIX + namespace;
}

/** The key of a subnet's gateway; pass the canonical network text, e.g. "10.0.1.0/24". */
export function gatewayKey(subnet: string): string {
  return GATEWAY_PREFIX + subnet;
}

/** The key of the last address ADD claimed from a namespace's pool in a subnet (canonical network text). */
export function lastKey(namespace: string, subnet: string): string {
  return `${LAST_PREFIX}${namespace}/${subnet}`;
}

/** The key of an allocation record. */
export function recordKey(id: string): string {
  return RECORD_PREFIX + id;
}

/** The key of an address's guard; pass canonical address text, so that one address has one key. */
export function guardKey(ip: string): string {
  return GUARD_PREFIX + ip;
}

/**
 * The record id of a container's interface. The first interface of a container uses the bare
 * container ID, the original's key, so tools that read `/anchor/cn/<containerID>` keep working; a
 * further interface of the same container (another network attached by Multus, say) gets
 * `<containerID>:<ifname>`. Neither a container ID nor an interface name may contain ':', so the two
 * forms cannot be confused.
 */
export function recordId(containerId: string, ifname: string, primary: boolean): string {
  return primary ? containerId : `${containerId}:${ifname}`;
}

/** The container ID a record id belongs to. */
export function containerOf(id: string): string {
  const colon = id.indexOf(":");
  return colon < 0 ? id : id.slice(0, colon);
}
