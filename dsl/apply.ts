/**
 * Writing a topology into the store, and comparing the store with it.
 *
 * Apply is idempotent: it reads what is there and writes only values that differ. Prune deletes
 * keys apply owns that the file no longer has; anchor's bindings (/anchor/cn/) and anything the
 * plugins write at run time have other shapes and are never touched.
 */
import { tryParseCidr } from "../mod/ip/cidr.ts";
import { KEYS, topologyToStore } from "./render_store.ts";
import type { Topology } from "./types.ts";

/** The little of a store apply needs; mod/store's stores satisfy it. */
export interface KvStore {
  list(prefix: string): Promise<{ key: string; value: string }[]>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<unknown>;
}

/** What apply did: keys written (new or changed), keys deleted by prune, and how many were already right. */
export interface ApplyResult {
  put: string[];
  deleted: string[];
  unchanged: number;
}

/** How one key compares: as the file says, absent, different, or in the store but not the file. */
export type KeyState = "ok" | "missing" | "differs" | "extra";

/** One key of a status report; `value` is the store's, `want` the file's. */
export interface StatusEntry {
  key: string;
  state: KeyState;
  value?: string;
  want?: string;
}

/** Everything apply owns in the store, and how it compares with a topology when one is given. */
export interface StatusReport {
  cluster?: string;
  counts: { nodes: number; pods: number; links: number; pools: number; gateways: number };
  entries: StatusEntry[];
  /** True when a topology was given and every key is "ok". */
  inSync?: boolean;
}

const LIST_PREFIXES = [KEYS.cluster, KEYS.nodes, KEYS.pods, KEYS.links, KEYS.pools, KEYS.gateways];

/** True for keys of exactly the shapes apply writes, so prune cannot reach anyone else's keys. */
export function isManagedKey(key: string): boolean {
  if (key === KEYS.cluster) return true;
  const rest = (prefix: string) => key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  const oneSegment = (s: string | undefined) => s !== undefined && s.length > 0 && !s.includes("/");
  if (oneSegment(rest(KEYS.nodes)) || oneSegment(rest(KEYS.links)) || oneSegment(rest(KEYS.pools))) {
    return true;
  }
  const pod = rest(KEYS.pods);
  if (pod !== undefined) {
    const [ns, name, more] = pod.split("/");
    return !!ns && !!name && more === undefined;
  }
  const gw = rest(KEYS.gateways);
  return gw !== undefined && tryParseCidr(gw) !== undefined;
}

async function managedKeys(store: KvStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const prefix of LIST_PREFIXES) {
    for (const kv of await store.list(prefix)) if (isManagedKey(kv.key)) out.set(kv.key, kv.value);
  }
  return out;
}

/**
 * Writes the topology's keys, only those whose value differs; with `prune`, deletes managed keys the
 * topology does not have. The topology must have passed lint without errors.
 */
export async function applyTopology(
  topology: Topology,
  store: KvStore,
  { prune = false }: { prune?: boolean } = {},
): Promise<ApplyResult> {
  const want = topologyToStore(topology);
  const have = await managedKeys(store);
  const result: ApplyResult = { put: [], deleted: [], unchanged: 0 };
  for (const [key, value] of want) {
    if (have.get(key) === value) {
      result.unchanged++;
      continue;
    }
    await store.put(key, value);
    result.put.push(key);
  }
  if (prune) {
    for (const key of have.keys()) {
      if (want.has(key)) continue;
      await store.delete(key);
      result.deleted.push(key);
    }
  }
  return result;
}

/** Reads what apply owns in the store; given a topology, says per key whether it matches. */
export async function topologyStatus(store: KvStore, topology?: Topology): Promise<StatusReport> {
  const have = await managedKeys(store);
  const count = (prefix: string) => [...have.keys()].filter((k) => k.startsWith(prefix)).length;
  const report: StatusReport = {
    cluster: have.get(KEYS.cluster),
    counts: {
      nodes: count(KEYS.nodes),
      pods: count(KEYS.pods),
      links: count(KEYS.links),
      pools: count(KEYS.pools),
      gateways: count(KEYS.gateways),
    },
    entries: [],
  };
  if (!topology) {
    for (const [key, value] of have) report.entries.push({ key, state: "ok", value });
    return report;
  }
  const want = topologyToStore(topology);
  for (const [key, value] of want) {
    const v = have.get(key);
    const state: KeyState = v === undefined ? "missing" : v === value ? "ok" : "differs";
    report.entries.push(
      v === undefined ? { key, state, want: value } : { key, state, value: v, want: value },
    );
  }
  for (const [key, value] of have) if (!want.has(key)) report.entries.push({ key, state: "extra", value });
  report.inSync = report.entries.every((e) => e.state === "ok");
  return report;
}

/** A status report as lines for people: a summary, then every key that is not as the file says. */
export function formatStatus(report: StatusReport): string {
  const c = report.counts;
  const lines = [
    `cluster ${
      report.cluster ?? "(unnamed)"
    }: ${c.nodes} nodes, ${c.pods} pods, ${c.links} links, ${c.pools} pools, ${c.gateways} gateways`,
  ];
  for (const e of report.entries) if (e.state !== "ok") lines.push(`${e.state.padEnd(8)}${e.key}`);
  if (report.inSync !== undefined) {
    lines.push(report.inSync ? "in sync with the file" : "differs from the file");
  }
  return lines.join("\n");
}
