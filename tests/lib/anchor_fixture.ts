/**
 * Fixtures for the anchor tests: the same suite runs on a file store in a temp dir and on a real etcd,
 * through the plugin as a real process. The store is read back through mod/store and decoded here by
 * hand, never through mod/ipam, so a codec bug cannot hide itself.
 */
import { parseCidr } from "../../mod/ip/mod.ts";
import { allocate, type Allocation } from "../../mod/ipam/mod.ts";
import { openStore, type Store } from "../../mod/store/mod.ts";
import { startEtcd, type TestEtcd } from "./etcd.ts";
import { binDir, type PluginReply, runPlugin } from "./plugin.ts";

/** Which backend a run uses. */
export type StoreKind = "file" | "etcd";

/** Both, in the order the suites run. */
export const STORE_KINDS: StoreKind[] = ["file", "etcd"];

/** A store for one suite, wiped between steps. */
export interface AnchorStore {
  kind: StoreKind;
  /** The ipam fields that select this store (`store` or `etcd_endpoints`). */
  ipam: Record<string, unknown>;
  /** The same as command line flags. */
  flags: string[];
  /** mod/store's handle, for seeding and reading back. */
  store: Store;
  etcd?: TestEtcd;
  /** Removes every /anchor/ key. */
  wipe(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a store of the kind: a temp dir, or etcd on a free loopback port. */
export async function openAnchorStore(kind: StoreKind): Promise<AnchorStore> {
  let etcd: TestEtcd | undefined;
  let dir: string | undefined;
  let ipam: Record<string, unknown>, flags: string[];
  if (kind === "etcd") {
    etcd = await startEtcd();
    ipam = { etcd_endpoints: etcd.endpoint };
    flags = ["--etcd-endpoints", etcd.endpoint];
  } else {
    dir = await Deno.makeTempDir({ prefix: "anchor-store-" });
    ipam = { store: dir };
    flags = ["--store", dir];
  }
  const store = await openStore(
    kind === "etcd"
      ? { kind: "etcd", endpoints: [etcd!.endpoint], timeoutMs: 5000 }
      : { kind: "file", dir: dir! },
  );
  return {
    kind,
    ipam,
    flags,
    store,
    etcd,
    wipe: async () => void await store.txn([], [{ deletePrefix: "/anchor/" }]),
    async close() {
      await store.close();
      if (etcd) await etcd.stop();
      if (dir) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** An ADD in process, as octopus makes it: container `id`'s eth0, a pod of namespace `default`. */
export function addInProcess(store: Store, id: string, subnet: string): Promise<Allocation> {
  return allocate(store, {
    containerId: id,
    ifname: "eth0",
    namespace: "default",
    podName: id,
    controller: "unknown",
    subnet: parseCidr(subnet),
    node: "n1",
    network: "net",
  });
}

/** Every /anchor/ key and value, read through mod/store. */
export async function dump(store: Store): Promise<Record<string, string>> {
  return Object.fromEntries((await store.list("/anchor/")).map((kv) => [kv.key, kv.value]));
}

/** The allocation records, decoded by hand: container id -> value fields. */
export async function records(store: Store): Promise<Map<string, string[]>> {
  return new Map(
    (await store.list("/anchor/cn/")).map((kv) => [kv.key.slice("/anchor/cn/".length), kv.value.split(",")]),
  );
}

/** The address guards: address -> owning record id. */
export async function guards(store: Store): Promise<Map<string, string>> {
  return new Map(
    (await store.list("/anchor/ip/")).map((kv) => [kv.key.slice("/anchor/ip/".length), kv.value]),
  );
}

/**
 * Checks the invariants the engine promises: one guard per record naming it, no guard without its
 * record, no address twice. Records without extra fields (the original's) need no guard.
 * Returns the problems found, empty when consistent.
 */
export async function inconsistencies(store: Store): Promise<string[]> {
  const recs = await records(store), gs = await guards(store);
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const [id, f] of recs) {
    if (seen.has(f[0])) problems.push(`${f[0]} held by both ${seen.get(f[0])} and ${id}`);
    seen.set(f[0], id);
    if (f.length > 4 && gs.get(f[0]) !== id) {
      problems.push(`record ${id} (${f[0]}) has guard ${gs.get(f[0]) ?? "none"}`);
    }
  }
  for (const [ip, id] of gs) {
    if (recs.get(id)?.[0] !== ip) {
      problems.push(`guard ${ip} names ${id}, which holds ${recs.get(id)?.[0] ?? "nothing"}`);
    }
  }
  return problems;
}

/** What a test varies in a config; the rest is a 1.1.0 conf whose ipam section selects the store. */
export interface ConfOptions {
  cniVersion?: string;
  name?: string;
  /** Extra ipam fields. */
  ipam?: Record<string, unknown>;
  /** `args.cni` (annotation keys). */
  args?: Record<string, string>;
  /** Extra top-level fields. */
  top?: Record<string, unknown>;
}

/** A network config for anchor on `s`. */
export function anchorConf(s: AnchorStore, o: ConfOptions = {}): Record<string, unknown> {
  return {
    cniVersion: o.cniVersion ?? "1.1.0",
    name: o.name ?? "anchornet",
    type: "octopus",
    ...(o.args ? { args: { cni: o.args } } : {}),
    ...o.top,
    ipam: { type: "anchor", ...s.ipam, ...o.ipam },
  };
}

/** One CNI call of the anchor plugin for a container; `cniArgs` defaults to the pod in namespace `default`. */
export interface AnchorCall {
  command: "ADD" | "DEL" | "CHECK" | "GC" | "STATUS";
  id?: string;
  ifname?: string;
  netns: string;
  conf: unknown;
  cniArgs?: string;
}

/** Runs the anchor plugin as a real process. */
export function callAnchor(c: AnchorCall): Promise<PluginReply> {
  const perContainer = c.command !== "GC" && c.command !== "STATUS";
  return runPlugin("anchor", {
    command: c.command,
    conf: c.conf,
    ...(perContainer
      ? {
        containerId: c.id,
        ifname: c.ifname ?? "eth0",
        netns: c.netns,
        cniArgs: c.cniArgs ?? `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${c.id}`,
      }
      : {}),
  });
}

/** Seeds pools and gateways through mod/store. */
export async function seed(store: Store, keys: Record<string, string>): Promise<void> {
  await store.txn([], Object.entries(keys).map(([put, value]) => ({ put, value })));
}

/** Runs `anchor ARGS` as a person would, through the launcher; returns exit code and output. */
export async function anchorCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(`${binDir()}/anchor`, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Runs `fn` over `items` with at most `limit` running at once; results in input order. */
export async function pool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
