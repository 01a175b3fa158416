/**
 * GC (CNI 1.1): releasing allocations the runtime no longer knows, and guards without their record.
 *
 * The store is shared by every node and every network that uses anchor, while a runtime's list of
 * valid attachments covers only its own node and network. So only records this node wrote for this
 * network are candidates; records the original anchor wrote carry neither and are left alone.
 *
 * A runtime lists the attachments it knows of when GC starts; an ADD still in flight is not among
 * them, yet its record may already be written. So a record younger than the grace period (from its
 * `time` field, written by ADD) is never collected: GC that overlaps ADDs loses no live record, and
 * no address is handed out twice.
 */
import type { Store } from "../store/types.ts";
import { guardKey, recordKey } from "./keys.ts";
import type { AllocationRecord } from "./record.ts";
import { releaseRecord } from "./release.ts";
import { readState } from "./state.ts";

/** One attachment the runtime still uses, as `cni.dev/valid-attachments` lists it. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

/** Whose garbage to collect. */
export interface GcRequest {
  node: string;
  network: string;
  valid: Attachment[];
  /**
   * The caller's grace period: true for a record's `time` when the record is too young to collect
   * (mod/cni's gcGrace). Without it every unlisted record is collected.
   */
  isYoung?: (time: string | undefined) => boolean;
}

/** What GC did; it goes on after a failure and reports every one here. */
export interface GcReport {
  released: AllocationRecord[];
  /** Records that were no valid attachment but younger than the grace period, so kept. */
  young: AllocationRecord[];
  /** Guard keys removed because no record owned their address. */
  orphanGuards: string[];
  errors: Error[];
}

/** Releases this node's records of this network that are not valid attachments, then orphaned guards. */
export async function collectGarbage(store: Store, req: GcRequest): Promise<GcReport> {
  const report: GcReport = { released: [], young: [], orphanGuards: [], errors: [] };
  const live = new Set(req.valid.map((a) => `${a.containerID}\n${a.ifname}`));
  const state = await readState(store);
  for (const held of state.records.values()) {
    const r = held.record;
    if (r.node !== req.node || r.network !== req.network || live.has(`${r.containerId}\n${r.ifname}`)) {
      continue;
    }
    if (req.isYoung?.(r.time)) {
      report.young.push(r);
      continue;
    }
    try {
      if (await releaseRecord(store, held)) report.released.push(r);
    } catch (e) {
      report.errors.push(e as Error);
    }
  }
  for (const [ip, guard] of state.guards) {
    const owner = state.records.get(guard.value)?.record;
    if (owner?.ip === ip) continue;
    // Compare the guard and the owner's key as the snapshot saw them, so an ADD that has claimed the
    // address since is never undone.
    const ownerRevision = state.records.get(guard.value)?.modRevision ?? 0;
    try {
      const gone = await store.txn(
        [{ key: guard.key, modRevision: guard.modRevision }, {
          key: recordKey(guard.value),
          modRevision: ownerRevision,
        }],
        [{ delete: guard.key }],
      );
      if (gone) report.orphanGuards.push(guardKey(ip));
    } catch (e) {
      report.errors.push(e as Error);
    }
  }
  return report;
}
