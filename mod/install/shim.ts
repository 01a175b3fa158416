/**
 * The node's own door into its macvlan pods. A host cannot talk to macvlan children of its own
 * master, so, as the original installer did, the master's address moves to a bridge-mode macvlan
 * sibling (acr00, acr01, ...) through which the node reaches pods and the LAN alike.
 */
import { type Handle, isErrno, isNotFound, type Link } from "../netlink/mod.ts";
import { canonicalCidr } from "../ip/mod.ts";
import type { ClusterNetworkItem } from "./cluster_network.ts";
import type { SavedRoute, ShimRecord } from "./state.ts";

/** RTPROT_KERNEL: routes the kernel made for an address; they come and go with it. */
const PROTO_KERNEL = 2;

/** The master named in CLUSTER_NETWORK is not on this node. */
export class MasterNotFoundError extends Error {
  constructor(readonly master: string, readonly node: string) {
    super(`master interface ${master} (CLUSTER_NETWORK, node ${node}) does not exist here`);
    this.name = "MasterNotFoundError";
  }
}

/** A link with the shim's name exists but is not a macvlan on the expected master; it is not ours to take. */
export class ShimConflictError extends Error {
  constructor(readonly shim: string, readonly master: string, readonly found: string) {
    super(`${shim} exists but is ${found}, not a macvlan on ${master}; remove it or fix CLUSTER_NETWORK`);
    this.name = "ShimConflictError";
  }
}

/**
 * Creates (or, on a re-run, adopts) the shim `name` for one CLUSTER_NETWORK item, in the handle's
 * namespace, and returns its record. Steps, each skipped when already done:
 * 1. promiscuous mode on the master (some NICs drop frames for the macvlans' MACs otherwise);
 * 2. `name` as a bridge-mode macvlan on the master, up;
 * 3. the item's address moved from the master to the shim, the master's routes recorded first;
 * 4. the subnet routed via the shim; with `takeDefault`, the default route via the gateway too,
 *    when the master had one;
 * 5. gratuitous ARPs from the shim, so the switch and the gateway learn its MAC now (best effort).
 */
export function ensureShim(
  h: Handle,
  name: string,
  item: ClusterNetworkItem,
  previous: ShimRecord | undefined,
  takeDefault: boolean,
): ShimRecord {
  const master = h.linkByName(item.master);
  if (!master) throw new MasterNotFoundError(item.master, item.node);
  const address = `${item.ip}/${item.prefix}`;
  const record: ShimRecord = previous ?? {
    name,
    master: item.master,
    address,
    movedAddress: false,
    masterRoutes: [],
    promiscBefore: master.promisc,
  };

  let shim = h.linkByName(name);
  if (shim && (shim.kind !== "macvlan" || shim.parentIndex !== master.index)) {
    throw new ShimConflictError(name, item.master, shim.kind ? `a ${shim.kind}` : "another device");
  }
  if (!record.promiscBefore) h.linkSetPromisc(master.index, true);
  if (!master.up) h.linkSetUp(master.index);
  if (!shim) {
    h.linkAdd({ kind: "macvlan", name, master: master.index, mode: "bridge", up: true });
    shim = h.linkByName(name)!;
  } else if (!shim.up) {
    h.linkSetUp(shim.index);
  }

  if (hasAddress(h, master, address)) {
    // Recorded before the move: deleting the address takes routes through it away with it.
    if (!record.movedAddress) record.masterRoutes = savedRoutes(h, master);
    h.addrDel(master.index, address);
    record.movedAddress = true;
  }
  if (!hasAddress(h, shim, address)) h.addrAdd(shim.index, address);
  h.routeReplace({ dst: item.subnet, dev: shim.index, src: item.ip, metric: 0 });

  const hadDefault = record.masterRoutes.some((r) => r.dst === "default");
  if (takeDefault && hadDefault && item.gateway) {
    h.routeReplace({ dst: "default", gw: item.gateway, dev: shim.index });
    for (const r of record.masterRoutes.filter((r) => r.dst === "default")) {
      try {
        h.routeDel({ dst: "default", gw: r.gw, dev: master.index, metric: r.metric });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }

  // The switch learns the shim's MAC from any frame it sends: announce the address as a request
  // (arping -U) and as a reply (arping -A), since some neighbours update their caches only on one.
  for (const op of ["request", "reply"] as const) {
    try {
      h.garp(shim.index, item.ip, { op });
    } catch {
      // Announcing is a courtesy to the switch and the gateway; the shim works without it.
    }
  }
  return record;
}

/**
 * Undoes {@link ensureShim}: deletes the shim (its address and routes go with it), gives the master
 * its address and routes back, and restores its promiscuous flag. Parts already undone are skipped.
 */
export function removeShim(h: Handle, record: ShimRecord): void {
  const shim = h.linkByName(record.name);
  if (shim && shim.kind === "macvlan") h.linkDel(shim.index);
  const master = h.linkByName(record.master);
  if (!master) return;
  if (record.movedAddress && !hasAddress(h, master, record.address)) h.addrAdd(master.index, record.address);
  for (const r of record.masterRoutes) {
    try {
      h.routeReplace({ dst: r.dst, gw: r.gw, dev: master.index, metric: r.metric });
    } catch (e) {
      // A route whose gateway is no longer reachable cannot come back; the rest still can.
      if (!isErrno(e, "ENETUNREACH")) throw e;
    }
  }
  if (!record.promiscBefore) h.linkSetPromisc(master.index, false);
}

function hasAddress(h: Handle, link: Link, cidr: string): boolean {
  const want = canonicalCidr(cidr);
  return h.addrList(link.index).some((a) => canonicalCidr(a.cidr) === want);
}

function savedRoutes(h: Handle, master: Link): SavedRoute[] {
  return h.routeList({ dev: master.index })
    .filter((r) => r.protocol !== PROTO_KERNEL && r.type === 1)
    .map((r) => ({
      dst: r.dst,
      ...(r.gw ? { gw: r.gw } : {}),
      ...(r.metric !== undefined ? { metric: r.metric } : {}),
    }));
}
