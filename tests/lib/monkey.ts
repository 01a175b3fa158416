/**
 * monkey test fixtures: a real store (file store in a temp dir, or a real etcd) seeded by writing keys
 * directly, in the original anchor's value formats, and a monkey server on a free 127.0.0.1 port.
 */
import { openStore, type Store } from "../../mod/store/mod.ts";
import { startMonkey } from "../../mod/monkey/mod.ts";
import { startEtcd } from "./etcd.ts";

/** The token every fixture server uses. */
export const TEST_TOKEN = "test-token-0123456789abcdef";

/**
 * What the fixture stores, by key. Records come in both formats: the original's four fields
 * (`ip,pod,namespace,controller`, no guard) and ours (eight fields plus the `/anchor/ip/` guard).
 */
export const SEED: Record<string, string> = {
  "/anchor/ns/default": "10.0.1.[2-9],10.0.2.8",
  "/anchor/ns/lab": "fd00:1::[10-1f]",
  "/anchor/gw/10.0.1.0/24": "10.0.1.1",
  "/anchor/gw/10.0.2.0/24": "10.0.2.1",
  "/anchor/gw/fd00:1::/64": "fd00:1::1",
  "/anchor/cn/aaa111": "10.0.1.2,web-0,default,web",
  "/anchor/cn/bbb222": "10.0.1.3,web-1,default,web",
  "/anchor/cn/ccc333": "10.0.2.8,db-0,default,db",
  "/anchor/cn/ddd444": "10.0.1.4,api-0,default,api,eth0,node01,anchor,2026-01-02T03:04:05.000Z",
  "/anchor/ip/10.0.1.4": "ddd444",
  "/anchor/cn/eee555": "fd00:1::10,r1,lab,unknown,eth0,node02,anchor,2026-01-02T03:04:05.000Z",
  "/anchor/ip/fd00:1::10": "eee555",
  "/ratchet/pods/lab/r1": JSON.stringify({ node: "node01", labels: { ratchet: "true" } }),
  "/ratchet/pods/lab/r2": JSON.stringify({ node: "node02", labels: { ratchet: "true" } }),
  "/ratchet/links/lab.r1.eth1--lab.r2.eth1": JSON.stringify({
    id: "lab.r1.eth1--lab.r2.eth1",
    a: { namespace: "lab", pod: "r1", ifname: "eth1", ip: "10.10.0.1/30" },
    b: { namespace: "lab", pod: "r2", ifname: "eth1", ip: "10.10.0.2/30" },
    mtu: 1450,
  }),
  // The plugin keys a link's state by its two ends, sorted; one vxlan end is made.
  "/ratchet/state/lab/r1/eth1/lab/r2/eth1": JSON.stringify({
    kind: "vxlan",
    vni: 5001,
    ends: { "lab/r1/eth1": { container_id: "eee555", remote: "192.168.1.2", up: true } },
  }),
  "/ratchet/attach/lab/r1": JSON.stringify({
    container_id: "eee555",
    netns: "/run/netns/x",
    node: "node03",
    links: [],
  }),
};

/** A running fixture. */
export interface MonkeyFixture {
  store: Store;
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:41234/. */
  url: string;
  kind: "file" | "etcd";
}

/** Writes SEED into the store. */
export async function seed(store: Store): Promise<void> {
  for (const [key, value] of Object.entries(SEED)) await store.put(key, value);
}

/**
 * Runs `fn` against a seeded store of `kind` and a monkey serving it, and removes everything after,
 * also when `fn` fails.
 */
export async function withMonkey(
  kind: "file" | "etcd",
  fn: (f: MonkeyFixture) => Promise<void>,
): Promise<void> {
  const dir = kind === "file" ? await Deno.makeTempDir({ prefix: "rt-monkey-" }) : undefined;
  const etcd = kind === "etcd" ? await startEtcd() : undefined;
  try {
    const store = await openStore(
      dir
        ? { kind: "file", dir: `${dir}/store` }
        : { kind: "etcd", endpoints: [etcd!.endpoint], timeoutMs: 2000 },
    );
    try {
      await seed(store);
      const server = startMonkey({ store, listen: { hostname: "127.0.0.1", port: 0 }, token: TEST_TOKEN });
      try {
        await fn({ store, url: server.url, kind });
      } finally {
        await server.shutdown();
      }
    } finally {
      await store.close();
    }
  } finally {
    if (dir) await Deno.remove(dir, { recursive: true });
    await etcd?.stop();
  }
}
