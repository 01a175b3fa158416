/**
 * mod/store against real backends: the same contract suite on the embedded SQLite store (a temp dir)
 * and on a real etcd 3.4 started for the test (through its JSON gateway, the one etcd client), then each
 * backend's own failure modes, with real processes.
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import {
  casUpdate,
  DEFAULT_STORE_DIR,
  describeSettings,
  openStore,
  type Store,
  StoreConflictError,
  StoreCorruptError,
  StoreError,
  storeFlagOptions,
  StoreIoError,
  type StoreSettings,
  StoreSettingsError,
  storeSettingsFromConfig,
  storeSettingsFromFlags,
  StoreUnavailableError,
  type WatchEvent,
} from "../mod/store/mod.ts";
import { freePort, startEtcd, type TestEtcd } from "./lib/etcd.ts";

const WORKER = new URL("./lib/store_worker.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const TIMEOUT_MS = 1500;

interface Backend {
  name: "sqlite" | "etcd";
  setup(): Promise<{ settings: StoreSettings; teardown(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "sqlite",
    async setup() {
      const dir = await Deno.makeTempDir({ prefix: "rt-store-" });
      return {
        settings: { kind: "file", dir: `${dir}/anchor` },
        teardown: () => Deno.remove(dir, { recursive: true }),
      };
    },
  },
  {
    name: "etcd",
    async setup() {
      const etcd = await startEtcd();
      return { settings: etcdSettings(etcd.endpoint), teardown: () => etcd.stop() };
    },
  },
];

function etcdSettings(endpoint: string, timeoutMs = TIMEOUT_MS): StoreSettings {
  return { kind: "etcd", endpoints: [endpoint], timeoutMs };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `ready()` or fails the test after `ms`: watch events arrive asynchronously. */
async function until(ready: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Watches `prefix` through `store`, collecting every event it reports, in order. */
async function recordWatch(
  store: Store,
  prefix: string,
): Promise<{ events: WatchEvent[]; watch: Awaited<ReturnType<Store["watch"]>> }> {
  const events: WatchEvent[] = [];
  const watch = await store.watch(prefix, (ev) => events.push(ev));
  return { events, watch };
}

/** Asserts that `run` rejects with StoreUnavailableError naming `endpoint`, and within `withinMs`. */
async function assertUnavailable(
  run: () => Promise<unknown>,
  endpoint: string,
  withinMs: number,
): Promise<void> {
  const started = Date.now();
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof StoreUnavailableError, `expected StoreUnavailableError, got ${e}`);
    assert.equal(e.temporary, true);
    assert.match(e.message, new RegExp(`^etcd at ${endpoint.replaceAll(".", "\\.")} is unreachable: `));
    return true;
  });
  const took = Date.now() - started;
  assert.ok(took < withinMs, `failed after ${took} ms, expected under ${withinMs} ms`);
}

interface WorkerResult {
  ok: boolean;
  values?: number[];
  key?: string | null;
  value?: string | null;
  waitFor?: string;
  name?: string;
  message?: string;
  temporary?: boolean;
  openMs?: number;
  getMs?: number;
  closeMs?: number;
}

function workerCommand(
  settings: StoreSettings,
  args: string[],
  env: Record<string, string> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", "--config", CONFIG, WORKER, JSON.stringify(settings), ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function runWorker(
  settings: StoreSettings,
  args: string[],
): Promise<WorkerResult & { wallMs: number }> {
  const started = performance.now();
  const out = await workerCommand(settings, args).output();
  const wallMs = performance.now() - started;
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.ok(text, `worker printed nothing; stderr: ${new TextDecoder().decode(out.stderr)}`);
  return { ...JSON.parse(text.split("\n").at(-1)!), wallMs };
}

for (const backend of backends) {
  Deno.test(`store contract: ${backend.name}`, async (t) => {
    const env = await backend.setup();
    const store = await openStore(env.settings);
    // A second client on the same data, standing for another process or node.
    const other = await openStore(env.settings);
    try {
      await t.step("describe names the backend and where it is", () => {
        assert.equal(store.describe(), describeSettings(env.settings));
        assert.match(
          store.describe(),
          backend.name === "sqlite"
            ? /^sqlite store \/.+\/anchor\/store\.db$/
            : /^etcd http:\/\/127\.0\.0\.1:\d+$/,
        );
      });

      await t.step("get, put, delete and versions", async () => {
        // Writes through `store` and reads back through the other client: value and version as written.
        const putAndReadBack = async (value: string, version: number) => {
          await store.put("/t1/a", value);
          const got = await other.get("/t1/a");
          assert.ok(got);
          assert.equal(got.value, value);
          assert.equal(got.version, version);
          return got;
        };
        assert.equal(await store.get("/t1/a"), undefined);
        const first = await putAndReadBack("one", 1);
        assert.equal(first.createRevision, first.modRevision);

        const second = await putAndReadBack("two", 2);
        assert.equal(second.createRevision, first.createRevision);
        assert.ok(second.modRevision > first.modRevision);

        assert.equal(await store.delete("/t1/a"), true);
        assert.equal(await store.delete("/t1/a"), false, "deleting an absent key reports false");
        assert.equal(await other.get("/t1/a"), undefined);

        await store.put("/t1/a", "three");
        const again = await store.get("/t1/a");
        assert.ok(again);
        assert.equal(again.version, 1, "a re-created key starts over");
        assert.ok(again.createRevision > second.modRevision);
      });

      await t.step("values keep any text byte for byte", async () => {
        const value = 'JSON {"a":[1,2]}, commas,, 10.0.1.[2-9]; ünïcødé 🦕\nnewline';
        await store.put("/t2/odd key with spaces", value);
        assert.equal((await other.get("/t2/odd key with spaces"))?.value, value);
        await store.put("/t2/empty", "");
        assert.equal((await other.get("/t2/empty"))?.value, "");
      });

      await t.step("list returns the prefix's keys sorted by key", async () => {
        for (const key of ["/t3/ns/b", "/t3/ns/a", "/t3/ns/a/x", "/t3/nsz", "/t3/n"]) {
          await store.put(key, key.toUpperCase());
        }
        const listed = await other.list("/t3/ns/");
        assert.deepEqual(listed.map((kv) => [kv.key, kv.value]), [
          ["/t3/ns/a", "/T3/NS/A"],
          ["/t3/ns/a/x", "/T3/NS/A/X"],
          ["/t3/ns/b", "/T3/NS/B"],
        ]);
        assert.ok(listed.every((kv) => kv.version === 1 && kv.modRevision > 0));
        assert.deepEqual(await store.list("/t3/none/"), []);
        assert.deepEqual(
          await other.listKeys("/t3/ns/"),
          ["/t3/ns/a", "/t3/ns/a/x", "/t3/ns/b"],
          "listKeys: the same keys",
        );
        assert.deepEqual(await store.listKeys("/t3/ns"), ["/t3/ns/a", "/t3/ns/a/x", "/t3/ns/b", "/t3/nsz"]);
        assert.deepEqual(await store.listKeys("/t3/none/"), []);
        assert.deepEqual((await store.list("/t3/ns")).map((kv) => kv.key), [
          "/t3/ns/a",
          "/t3/ns/a/x",
          "/t3/ns/b",
          "/t3/nsz",
        ]);
      });

      await t.step("txn applies the success branch when every compare holds", async () => {
        await store.put("/t4/guard", "g1");
        const guard = (await store.get("/t4/guard"))!;
        const ok = await store.txn(
          [
            { key: "/t4/guard", exists: true },
            { key: "/t4/new", exists: false },
            { key: "/t4/guard", modRevision: guard.modRevision },
            { key: "/t4/guard", value: "g1" },
            { key: "/t4/never", modRevision: 0 },
          ],
          [{ put: "/t4/guard", value: "g2" }, { put: "/t4/new", value: "n" }],
          [{ put: "/t4/failed", value: "x" }],
        );
        assert.equal(ok, true);
        const [g, n] = [await other.get("/t4/guard"), await other.get("/t4/new")];
        assert.equal(g?.value, "g2");
        assert.equal(n?.value, "n");
        assert.equal(g?.modRevision, n?.modRevision, "one transaction is one revision");
        assert.equal(await other.get("/t4/failed"), undefined);
      });

      await t.step("txn applies the failure branch when any compare fails", async () => {
        const guard = (await store.get("/t4/guard"))!;
        const failing = [
          { key: "/t4/guard", exists: false },
          { key: "/t4/absent", exists: true },
          { key: "/t4/guard", modRevision: guard.modRevision - 1 },
          { key: "/t4/guard", value: "g1" },
          { key: "/t4/absent", value: "" },
          { key: "/t4/absent", modRevision: 1 },
        ];
        for (const compare of failing) {
          const ok = await store.txn(
            [{ key: "/t4/guard", exists: true }, compare],
            [{ put: "/t4/guard", value: "changed" }],
            [{ put: "/t4/failures", value: JSON.stringify(compare) }],
          );
          assert.equal(ok, false, `compare ${JSON.stringify(compare)} should fail`);
          assert.equal((await other.get("/t4/failures"))?.value, JSON.stringify(compare));
        }
        assert.equal((await other.get("/t4/guard"))?.value, "g2", "the success branch never ran");
        assert.equal(
          await store.txn([{ key: "/t4/absent", exists: true }], [{ put: "/t4/x", value: "x" }]),
          false,
        );
        assert.equal(await other.get("/t4/x"), undefined, "no failure branch means no write");
      });

      await t.step("txn deletes keys and prefixes", async () => {
        for (const key of ["/t5/a", "/t5/b/1", "/t5/b/2", "/t5/c"]) await store.put(key, "v");
        assert.equal(
          await store.txn([], [{ delete: "/t5/a" }, { deletePrefix: "/t5/b/" }, {
            put: "/t5/d",
            value: "v",
          }]),
          true,
        );
        assert.deepEqual((await other.list("/t5/")).map((kv) => kv.key), ["/t5/c", "/t5/d"]);
      });

      await t.step("txn rejects what etcd rejects, on both backends", async () => {
        await assert.rejects(
          () => store.txn([], [{ put: "/t6/a", value: "1" }, { put: "/t6/a", value: "2" }]),
          StoreError,
        );
        await assert.rejects(
          () => store.txn([], [{ put: "/t6/b/1", value: "1" }, { deletePrefix: "/t6/b/" }]),
          StoreError,
        );
        await assert.rejects(() => store.put("", "x"), StoreError);
        assert.deepEqual(await store.list("/t6/"), [], "nothing of a rejected transaction was written");
      });

      await t.step("watch reports puts and deletes under its prefix only", async () => {
        const { events, watch } = await recordWatch(store, "/t7/");
        try {
          await other.put("/t7/a", "1");
          await until(() => events.length >= 1, "the put event");
          await other.put("/t8/outside", "x");
          await other.put("/t7/b", "2");
          await until(() => events.length >= 2, "the second put event");
          await other.delete("/t7/a");
          await until(() => events.length >= 3, "the delete event");
          assert.deepEqual(events.map((e) => [e.type, e.kv.key, e.kv.value]), [
            ["put", "/t7/a", "1"],
            ["put", "/t7/b", "2"],
            ["delete", "/t7/a", ""],
          ]);
          assert.equal(events[1].kv.version, 1);
          assert.ok(events[2].kv.modRevision > events[1].kv.modRevision);
        } finally {
          watch.close();
        }
        await other.put("/t7/c", "after close");
        await sleep(400);
        assert.equal(events.length, 3, "a closed watch stays quiet");
      });

      await t.step("a watch sees writes made through the same client too", async () => {
        const { events, watch } = await recordWatch(store, "/t7own/");
        try {
          await store.put("/t7own/a", "1");
          await until(() => events.length >= 1, "the event of our own put");
          assert.equal(events[0].kv.value, "1");
        } finally {
          watch.close();
        }
      });

      await t.step("waitFor returns at once when the predicate already holds", async () => {
        await store.put("/t9/ready", "yes");
        const started = Date.now();
        const kv = await store.waitFor("/t9/ready", (kv) => kv?.value === "yes", 5000);
        assert.equal(kv?.value, "yes");
        assert.ok(Date.now() - started < 1000);
      });

      await t.step("waitFor times out with undefined", async () => {
        const started = Date.now();
        assert.equal(await store.waitFor("/t9/never", (kv) => kv !== undefined, 300), undefined);
        const took = Date.now() - started;
        assert.ok(took >= 290 && took < 1500, `took ${took} ms`);
      });

      await t.step("waitFor sees another client's write, skipping values that do not match", async () => {
        const waiting = store.waitFor("/t9/peer", (kv) => kv?.value.startsWith("registered") ?? false, 5000);
        await sleep(150);
        await other.put("/t9/peer", "starting");
        await sleep(250);
        await other.put("/t9/peer", "registered node01");
        const kv = await waiting;
        assert.equal(kv?.value, "registered node01");
        assert.equal(kv?.version, 2);
      });

      await t.step("waitFor can wait for a key to go away", async () => {
        await store.put("/t9/gone", "x");
        const waiting = store.waitFor("/t9/gone", (kv) => kv === undefined, 5000);
        await sleep(150);
        await other.delete("/t9/gone");
        assert.equal(await waiting, undefined);
        assert.equal(await store.get("/t9/gone"), undefined);
      });

      await t.step("close ends a pending waitFor with an error instead of leaving it hanging", async () => {
        const third = await openStore(env.settings);
        const waiting = third.waitFor("/t9/never-comes", (kv) => kv !== undefined, 30_000);
        await sleep(200);
        const started = Date.now();
        await third.close();
        await assert.rejects(
          waiting,
          (e: unknown) => e instanceof StoreError && /was closed while waiting/.test(e.message),
        );
        assert.ok(Date.now() - started < 1000);
        await assert.rejects(() => third.get("/t9/a"), /is closed/);
      });

      await t.step("casUpdate creates, updates, deletes and skips no-op writes", async () => {
        const seen: (string | undefined)[] = [];
        assert.equal(await casUpdate(store, "/t10/c", (old) => (seen.push(old), "a")), "a");
        assert.equal(await casUpdate(store, "/t10/c", (old) => (seen.push(old), `${old}b`)), "ab");
        assert.deepEqual(seen, [undefined, "a"]);
        const before = (await store.get("/t10/c"))!;
        assert.equal(await casUpdate(store, "/t10/c", (old) => old), "ab");
        assert.equal(
          (await store.get("/t10/c"))?.modRevision,
          before.modRevision,
          "an unchanged value is not written",
        );
        assert.equal(await casUpdate(store, "/t10/c", () => undefined), undefined);
        assert.equal(await other.get("/t10/c"), undefined);
      });

      await t.step("casUpdate loses no update among concurrent writers", async () => {
        await Promise.all(
          Array.from(
            { length: 30 },
            (_, i) => casUpdate(i % 2 ? store : other, "/t10/list", (old) => `${old ?? ""}${i},`),
          ),
        );
        const parts = (await store.get("/t10/list"))!.value.split(",").filter(Boolean).map(Number);
        assert.deepEqual(parts.sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
      });

      await t.step("casUpdate gives up with a temporary StoreConflictError", async () => {
        await store.put("/t10/busy", "0");
        let reads = 0;
        // A store on which every write loses the race, as under extreme contention.
        const losing = {
          get: (key: string) => (reads++, store.get(key)),
          txn: () => Promise.resolve(false),
        } as unknown as Store;
        await assert.rejects(
          () => casUpdate(losing, "/t10/busy", () => "x", { attempts: 4 }),
          (e: unknown) => {
            assert.ok(e instanceof StoreConflictError);
            assert.equal(e.key, "/t10/busy");
            assert.equal(e.attempts, 4);
            assert.equal(e.temporary, true);
            return true;
          },
        );
        assert.equal(reads, 4, "each attempt re-reads");
        assert.equal((await store.get("/t10/busy"))?.value, "0");
      });

      await t.step("a fresh process opens, reads and closes quickly, then exits on its own", async () => {
        await store.put("/t15/probe", "here");
        const runs: (WorkerResult & { wallMs: number })[] = [];
        for (let i = 0; i < 5; i++) runs.push(await runWorker(env.settings, ["probe", "/t15/probe"]));
        for (const run of runs) {
          assert.equal(run.ok, true, run.message ?? "");
          assert.equal(run.value, "here");
        }
        const median = (pick: (r: WorkerResult & { wallMs: number }) => number) =>
          runs.map(pick).sort((a, b) => a - b)[2];
        const cost = {
          wallMs: median((r) => r.wallMs),
          openMs: median((r) => r.openMs!),
          getMs: median((r) => r.getMs!),
          closeMs: median((r) => r.closeMs!),
        };
        console.log(
          `store cost, ${backend.name}, median of 5 fresh processes (ms):`,
          JSON.stringify(cost, (_, v) => typeof v === "number" ? Math.round(v * 10) / 10 : v),
        );
        // Generous bounds: the point is that nothing waits on a timeout or a lingering handle.
        assert.ok(
          cost.wallMs < (backend.name === "sqlite" ? 1500 : 3000),
          `a fresh process took ${cost.wallMs} ms`,
        );
        assert.ok(cost.closeMs < 200, `close took ${cost.closeMs} ms`);

        const linger = await runWorker(env.settings, ["linger", "/t15/"]);
        assert.equal(linger.ok, true, linger.message ?? "");
        // Depending on how far waitFor got, it learns of the close while waiting or as it starts to.
        assert.match(String(linger.waitFor), /^StoreError: .* (was closed while waiting|is closed)/);
        assert.ok(
          linger.wallMs < cost.wallMs + 1000,
          `with a watch open, the process took ${linger.wallMs} ms to end`,
        );
      });
    } finally {
      await store.close();
      await other.close();
      await env.teardown();
    }
  });
}

/** A test on a fresh embedded store whose directory (`<tmp>/anchor`) does not exist until the first write. */
function sqliteTest(name: string, fn: (store: Store, dir: string) => Promise<void>): void {
  Deno.test(`sqlite store: ${name}`, async () => {
    const parent = await Deno.makeTempDir({ prefix: "rt-store-" });
    const dir = `${parent}/anchor`;
    const store = await openStore({ kind: "file", dir });
    try {
      await fn(store, dir);
    } finally {
      await store.close();
      await Deno.remove(parent, { recursive: true });
    }
  });
}

/** Runs Debian's sqlite3 on the database, as README tells a person to. */
async function sqlite3(db: string, sql: string): Promise<string> {
  const out = await new Deno.Command("sqlite3", { args: [db, sql], stdout: "piped", stderr: "piped" })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** Asserts a rejection with CNI code 5's marker (`io`), naming `path`. */
function ioFailure(path: string, kind: typeof StoreCorruptError | typeof StoreIoError, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e}`);
    assert.equal((e as { io?: boolean }).io, true);
    assert.equal((e as { temporary?: boolean }).temporary, undefined);
    assert.ok((e as Error).message.includes(path), `${(e as Error).message} names ${path}`);
    if (message) assert.match((e as Error).message, message);
    return true;
  };
}

sqliteTest("the database reads and edits with sqlite3, in the documented shape", async (store, dir) => {
  await store.put("/anchor/ns/default", "10.0.1.[2-9]");
  await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
  await store.put("/anchor/ns/default", "10.0.1.[2-20]");
  const db = `${dir}/store.db`;
  assert.equal(
    await sqlite3(db, "SELECT key, value, create_revision, mod_revision, version FROM kv ORDER BY key"),
    "/anchor/gw/10.0.1.0/24|10.0.1.1|2|2|1\n/anchor/ns/default|10.0.1.[2-20]|1|3|2\n",
  );
  assert.equal(await sqlite3(db, "SELECT value FROM meta WHERE name = 'revision'"), "3\n");
  assert.equal(await sqlite3(db, "PRAGMA journal_mode"), "wal\n");
  // README's hand edit: one transaction that bumps the revision and stamps the key with it.
  await sqlite3(
    db,
    "BEGIN IMMEDIATE; UPDATE meta SET value = value + 1 WHERE name = 'revision'; " +
      "UPDATE kv SET value = '10.0.1.[2-30]', version = version + 1, " +
      "mod_revision = (SELECT value FROM meta WHERE name = 'revision') WHERE key = '/anchor/ns/default'; COMMIT;",
  );
  const edited = await store.get("/anchor/ns/default");
  assert.deepEqual(edited, {
    key: "/anchor/ns/default",
    value: "10.0.1.[2-30]",
    createRevision: 1,
    modRevision: 4,
    version: 3,
  });
  await store.put("/anchor/x", "after");
  assert.equal((await store.get("/anchor/x"))?.modRevision, 5);
});

sqliteTest("reads do not create the directory; the first write does", async (store, dir) => {
  assert.equal(await store.get("/a"), undefined);
  assert.deepEqual(await store.list("/"), []);
  assert.equal(await store.waitFor("/a", (kv) => kv !== undefined, 50), undefined);
  const started = Date.now();
  assert.equal(await store.waitFor("/a", (kv) => kv === undefined, 30_000), undefined);
  assert.ok(Date.now() - started < 5000, "an absent store holds no key: waiting for absence ends at once");
  await assert.rejects(() => Deno.stat(dir), Deno.errors.NotFound);
  await store.put("/a", "1");
  assert.equal((await Deno.stat(`${dir}/store.db`)).isFile, true);
  assert.ok([...Deno.readDirSync(dir)].every((e) => !e.name.includes(".new.")), "no temp file is left");
});

sqliteTest("store.json is imported once with its revisions and versions, then renamed", async (_, dir) => {
  await Deno.mkdir(dir);
  const legacy = {
    revision: 7,
    keys: {
      "/anchor/ns/default": { value: "10.0.1.[2-9]", createRevision: 1, modRevision: 6, version: 4 },
      "/anchor/cn/abc": { value: "10.0.1.2,web-0,default,", createRevision: 7, modRevision: 7, version: 1 },
      "/anchor/ip/10.0.1.2": { value: "abc", createRevision: 7, modRevision: 7, version: 1 },
    },
  };
  await Deno.writeTextFile(`${dir}/store.json`, JSON.stringify(legacy, null, 2));
  // Several processes open it at once: exactly one import happens.
  const runs = await Promise.all(
    [0, 1, 2, 3].map(() => runWorker({ kind: "file", dir }, ["probe", "/anchor/cn/abc"])),
  );
  for (const run of runs) assert.equal(run.value, "10.0.1.2,web-0,default,", run.message ?? "");
  const store = await openStore({ kind: "file", dir });
  try {
    assert.deepEqual(await store.get("/anchor/ns/default"), {
      key: "/anchor/ns/default",
      value: "10.0.1.[2-9]",
      createRevision: 1,
      modRevision: 6,
      version: 4,
    });
    assert.equal((await store.list("/anchor/")).length, 3);
    await store.put("/anchor/ns/default", "10.0.1.[2-20]");
    const next = (await store.get("/anchor/ns/default"))!;
    assert.equal(next.modRevision, 8, "revisions go on from the imported store's");
    assert.equal(next.version, 5);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("store.json")),
      ["store.json.migrated"],
    );
    // A store.json that reappears later (an old binary wrote it) is not imported over newer data.
    await Deno.writeTextFile(`${dir}/store.json`, JSON.stringify(legacy));
  } finally {
    await store.close();
  }
  const again = await openStore({ kind: "file", dir });
  try {
    assert.equal((await again.get("/anchor/ns/default"))?.value, "10.0.1.[2-20]");
  } finally {
    await again.close();
  }
});

sqliteTest(
  "a corrupt store.json is reported by name and neither imported nor renamed",
  async (store, dir) => {
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/store.json`, '{"revision": 1, "keys": {"/a": ');
    await assert.rejects(
      () => store.get("/a"),
      ioFailure(`${dir}/store.json`, StoreCorruptError, /not JSON/),
    );
    assert.equal(await Deno.readTextFile(`${dir}/store.json`), '{"revision": 1, "keys": {"/a": ');
  },
);

sqliteTest("a truncated or garbage database is reported by name, never recreated", async (store, dir) => {
  for (let i = 0; i < 300; i++) await store.put(`/fill/${i}`, "x".repeat(500));
  await store.close();
  const db = `${dir}/store.db`;
  await sqlite3(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  const whole = await Deno.readFile(db);
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated", whole.subarray(0, Math.floor(whole.length / 2)), /truncated|malformed/],
    ["garbage", new TextEncoder().encode("this is not a database\n".repeat(200)), /not an SQLite database/],
    ["empty", new Uint8Array(), /empty/],
  ];
  for (const [what, bytes, message] of cases) {
    for (const f of [`${db}-wal`, `${db}-shm`]) await Deno.remove(f).catch(() => undefined);
    await Deno.writeFile(db, bytes);
    const fresh = await openStore({ kind: "file", dir });
    try {
      await assert.rejects(() => fresh.list("/fill/"), ioFailure(db, StoreCorruptError, message), what);
      await assert.rejects(() => fresh.put("/b", "x"), StoreCorruptError, what);
    } finally {
      await fresh.close();
    }
    assert.deepEqual(await Deno.readFile(db), bytes, `${what}: the file was left as it was`);
  }
});

sqliteTest("a read-only directory is code 5 naming the file", async (store, dir) => {
  await store.put("/a", "1");
  await store.close();
  // Root ignores permissions, so the test makes the file system itself read-only: a bind mount.
  const ro = await Deno.makeTempDir({ prefix: "rt-store-ro-" });
  const mount = await new Deno.Command("mount", { args: ["--bind", "-o", "ro", dir, ro] }).output();
  if (!mount.success) {
    await Deno.remove(ro);
    assert.fail(`bind mount: ${new TextDecoder().decode(mount.stderr)}`);
  }
  try {
    await new Deno.Command("mount", { args: ["-o", "remount,bind,ro", ro] }).output();
    const readOnly = await openStore({ kind: "file", dir: ro });
    try {
      await assert.rejects(() => readOnly.put("/b", "2"), ioFailure(`${ro}/store.db`, StoreIoError));
    } finally {
      await readOnly.close();
    }
  } finally {
    await new Deno.Command("umount", { args: [ro] }).output();
    await Deno.remove(ro);
  }
});

sqliteTest("a full disk is code 5 naming the file, and what was stored stays", async (_, dir) => {
  await Deno.mkdir(dir);
  const mount = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir] })
    .output();
  assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
  try {
    const store = await openStore({ kind: "file", dir });
    try {
      await store.put("/kept", "yes");
      let failure: unknown;
      for (let i = 0; i < 2000 && !failure; i++) {
        await store.put(`/fill/${i}`, "x".repeat(2000)).catch((e) => (failure = e));
      }
      assert.ok(failure, "the tmpfs filled up");
      ioFailure(`${dir}/store.db`, StoreIoError, /full/)(failure);
      assert.equal((await store.get("/kept"))?.value, "yes");
    } finally {
      await store.close();
    }
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
  }
});

sqliteTest(
  "a write lock held by hand is waited for a bounded time, then 'try again later'",
  async (store, dir) => {
    await store.put("/a", "1");
    const holder = new Deno.Command("sqlite3", { args: [`${dir}/store.db`], stdin: "piped", stdout: "null" })
      .spawn();
    const writer = holder.stdin.getWriter();
    await writer.write(new TextEncoder().encode("BEGIN IMMEDIATE;\nSELECT 1;\n"));
    try {
      await sleep(300);
      const started = Date.now();
      await assert.rejects(() => store.put("/b", "2"), (e: unknown) => {
        assert.ok(e instanceof StoreUnavailableError, `got ${e}`);
        assert.equal(e.temporary, true);
        return true;
      });
      const took = Date.now() - started;
      assert.ok(took >= 4500 && took < 8000, `waited ${took} ms`);
      assert.equal((await store.get("/a"))?.value, "1", "reads go on while a writer holds the lock");
    } finally {
      await writer.write(new TextEncoder().encode("ROLLBACK;\n.quit\n"));
      await writer.close();
      await holder.status;
    }
    await store.put("/b", "2");
  },
);

sqliteTest("writers killed mid-write never leave an unreadable store", async (store, dir) => {
  const settings: StoreSettings = { kind: "file", dir };
  const children: Deno.ChildProcess[] = [];
  try {
    await store.put("/crash/base", "kept");
    let reads = 0;
    let lastRevision = 0;
    for (let round = 0; round < 4; round++) {
      const writers = [0, 1, 2].map((i) => workerCommand(settings, ["hammer", `/crash/${i}/`]).spawn());
      children.push(...writers);
      // Read while they write, then kill them at an arbitrary moment once they are writing (a process
      // start takes from 0.1 to 1 s on this shared machine).
      const roundStart = lastRevision;
      let stopAt = Date.now() + 10_000;
      while (Date.now() < stopAt) {
        const revision = Math.max(0, ...(await store.list("/crash/")).map((kv) => kv.modRevision));
        assert.ok(revision >= lastRevision, "the revision never goes back");
        if (revision > roundStart + 5 && stopAt - Date.now() > 1000) {
          stopAt = Date.now() + Math.random() * 300;
        }
        lastRevision = revision;
        reads++;
        await sleep(2);
      }
      for (const writer of writers) writer.kill("SIGKILL");
      await Promise.all(writers.map((c) => c.status));
      assert.equal((await store.get("/crash/base"))?.value, "kept");
    }
    assert.ok(lastRevision > 20, `the writers made progress (revision ${lastRevision})`);
    assert.ok(reads > 50);
    assert.equal(await sqlite3(`${dir}/store.db`, "PRAGMA integrity_check"), "ok\n");
    // The lock died with its holders: the store is still writable.
    await store.put("/crash/after", "fine");
    assert.equal((await store.get("/crash/after"))?.value, "fine");
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already killed above.
      }
    }
    await Promise.allSettled(children.map((c) => c.output()));
  }
});

sqliteTest("a closed store refuses work and stops its timers", async (store) => {
  await store.watch("/", () => {});
  await store.close();
  await assert.rejects(() => store.get("/a"), /is closed/);
  await assert.rejects(() => store.put("/a", "1"), /is closed/);
});

sqliteTest("await using closes the store at the end of the block", async (_, dir) => {
  let kept: Store;
  {
    await using store = await openStore({ kind: "file", dir });
    kept = store;
    await store.put("/a", "1");
  }
  await assert.rejects(() => kept.get("/a"), /is closed/);
});

Deno.test("etcd: an endpoint nobody listens on fails fast with StoreUnavailableError", async () => {
  const endpoint = `http://127.0.0.1:${freePort()}`;
  const store = await openStore(etcdSettings(endpoint));
  try {
    await assertUnavailable(() => store.get("/a"), endpoint, TIMEOUT_MS);
    await assertUnavailable(
      () => store.txn([{ key: "/a", exists: false }], [{ put: "/a", value: "1" }]),
      endpoint,
      TIMEOUT_MS,
    );
    await assertUnavailable(() => store.list("/"), endpoint, TIMEOUT_MS);
    await assertUnavailable(() => store.watch("/", () => {}), endpoint, TIMEOUT_MS + 500);
    await assertUnavailable(() => store.waitFor("/a", () => false, 10_000), endpoint, TIMEOUT_MS);
  } finally {
    await store.close();
  }
  // And in a fresh process: the error is reported, and the process ends without lingering.
  const run = await runWorker(etcdSettings(endpoint), ["probe", "/a"]);
  assert.equal(run.ok, false);
  assert.equal(run.name, "StoreUnavailableError");
  assert.equal(run.temporary, true);
  assert.ok(run.message?.includes(endpoint));
  assert.ok(run.wallMs < TIMEOUT_MS + 2000, `the process took ${run.wallMs} ms`);
});

Deno.test("etcd: a list of endpoints fails over from one that refuses connections to the next", async () => {
  const etcd = await startEtcd();
  const dead = `http://127.0.0.1:${freePort()}`;
  const store = await openStore(storeSettingsFromConfig({
    etcd_endpoints: [dead, etcd.endpoint],
    etcd_timeout_ms: TIMEOUT_MS,
  }));
  try {
    await store.put("/fo/a", "1");
    assert.equal((await store.get("/fo/a"))?.value, "1");
    const { events, watch } = await recordWatch(store, "/fo/");
    await store.put("/fo/b", "2");
    await until(() => events.length >= 1, "the watch through the second endpoint");
    watch.close();
  } finally {
    await store.close();
    await etcd.stop();
  }
});

Deno.test("etcd: an endpoint that accepts but never answers fails within the timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoint = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const store = await openStore(etcdSettings(endpoint, 800));
  try {
    await assertUnavailable(() => store.get("/a"), endpoint, 800 + 700);
    await assertUnavailable(() => store.put("/a", "1"), endpoint, 800 + 700);
    assert.ok(held.length > 0, "the client did connect to the silent server");
  } finally {
    await store.close();
    listener.close();
    await accepting.catch(() => undefined);
    for (const conn of held) conn.close();
  }
});

Deno.test("etcd: killed mid-run, calls fail fast; restarted, the same client and its watch recover", async () => {
  const etcd: TestEtcd = await startEtcd();
  const store = await openStore(etcdSettings(etcd.endpoint));
  try {
    await store.put("/k/a", "1");
    const { events, watch } = await recordWatch(store, "/k/");
    etcd.kill();
    await assertUnavailable(() => store.get("/k/a"), etcd.endpoint, TIMEOUT_MS + 500);
    await assertUnavailable(() => store.put("/k/b", "2"), etcd.endpoint, TIMEOUT_MS + 500);
    await assertUnavailable(() => casUpdate(store, "/k/a", () => "3"), etcd.endpoint, TIMEOUT_MS + 500);
    await assertUnavailable(
      () => store.waitFor("/k/c", (kv) => kv !== undefined, 1000),
      etcd.endpoint,
      1000 + TIMEOUT_MS,
    );

    await etcd.restart();
    // The channel reconnects on its own; allow it a moment.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        assert.equal((await store.get("/k/a"))?.value, "1", "the data survived the kill");
        break;
      } catch (e) {
        if (!(e instanceof StoreUnavailableError) || Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
    await store.put("/k/d", "4");
    await until(
      () => events.some((e) => e.kv.key === "/k/d"),
      "the watch to deliver after the restart",
      10_000,
    );
    watch.close();
  } finally {
    await store.close();
    await etcd.stop();
  }
});

Deno.test("etcd: TLS with client certificates, to an IP address", async () => {
  const etcd = await startEtcd({ tls: true });
  const tls = etcd.tls!;
  const good = await openStore(storeSettingsFromConfig({
    etcd_endpoints: etcd.endpoint,
    etcd_ca_cert_file: tls.caFile,
    etcd_cert_file: tls.certFile,
    etcd_key_file: tls.keyFile,
    etcd_timeout_ms: TIMEOUT_MS,
  }));
  const noClientCert = await openStore({
    kind: "etcd",
    endpoints: [etcd.endpoint],
    caCertFile: tls.caFile,
    timeoutMs: TIMEOUT_MS,
  });
  const unknownCa = await openStore({
    kind: "etcd",
    endpoints: [etcd.endpoint],
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    timeoutMs: TIMEOUT_MS,
  });
  try {
    assert.match(etcd.endpoint, /^https:\/\/127\.0\.0\.1:/);
    await good.put("/tls/a", "secret");
    assert.equal((await good.get("/tls/a"))?.value, "secret");
    // The refusal shows as a TLS alert or a broken pipe, depending on timing; either way no data.
    await assert.rejects(() => noClientCert.get("/tls/a"), StoreError, "etcd demands a client certificate");
    await assert.rejects(
      () => unknownCa.get("/tls/a"),
      (e: Error & { temporary?: boolean; field?: string }) => {
        assert.match(e.message, /invalid peer certificate: UnknownIssuer/, "the server is verified");
        assert.notEqual(e.temporary, true, "an untrusted certificate is not worth retrying");
        assert.match(e.field ?? "", /etcd_ca_cert_file/, "it is a settings error (CNI code 7)");
        return true;
      },
    );
  } finally {
    await good.close();
    await noClientCert.close();
    await unknownCa.close();
    await etcd.stop();
  }
});

Deno.test("etcd: TLS refuses a server certificate issued for another address", async () => {
  const etcd = await startEtcd({ tls: true, serverAltName: "IP:127.0.0.9" });
  const tls = etcd.tls!;
  const store = await openStore({
    kind: "etcd",
    endpoints: [etcd.endpoint],
    caCertFile: tls.caFile,
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    timeoutMs: TIMEOUT_MS,
  });
  try {
    await assert.rejects(() => store.get("/a"), (e: Error & { temporary?: boolean }) => {
      assert.match(e.message, /invalid peer certificate: certificate not valid for name "127\.0\.0\.1"/);
      assert.notEqual(e.temporary, true);
      return true;
    });
  } finally {
    await store.close();
    await etcd.stop();
  }
});

Deno.test("etcd: username and password; a wrong password is an error that is not temporary", async () => {
  const etcd = await startEtcd();
  try {
    // Turning auth on is an admin task outside the store's interface; the test calls etcd's gateway.
    for (
      const [path, body] of [
        ["/v3/auth/role/add", { name: "root" }],
        ["/v3/auth/user/add", { name: "root", password: "s3cret" }],
        ["/v3/auth/user/grant", { user: "root", role: "root" }],
        ["/v3/auth/enable", {}],
      ] as const
    ) {
      const r = await fetch(`${etcd.endpoint}${path}`, { method: "POST", body: JSON.stringify(body) });
      const text = await r.text();
      assert.ok(r.ok, `${path}: ${text}`);
    }
    const config = { etcd_endpoints: etcd.endpoint, etcd_username: "root", etcd_timeout_ms: TIMEOUT_MS };
    const good = await openStore(storeSettingsFromConfig({ ...config, etcd_password: "s3cret" }));
    const bad = await openStore(storeSettingsFromConfig({ ...config, etcd_password: "wrong" }));
    const anonymous = await openStore(etcdSettings(etcd.endpoint));
    try {
      assert.equal(
        await good.txn([{ key: "/auth/a", exists: false }], [{ put: "/auth/a", value: "1" }]),
        true,
      );
      assert.equal((await good.get("/auth/a"))?.value, "1");
      await assert.rejects(() => bad.get("/auth/a"), (e: unknown) => {
        assert.ok(e instanceof StoreError && !(e instanceof StoreUnavailableError), `got ${e}`);
        assert.match(e.message, /authentication failed/i);
        return true;
      });
      await assert.rejects(() => anonymous.put("/auth/b", "x"), (e: unknown) => {
        assert.ok(e instanceof StoreError && !(e instanceof StoreUnavailableError), `got ${e}`);
        return true;
      });
      assert.equal(await good.get("/auth/b"), undefined);
    } finally {
      await good.close();
      await bad.close();
      await anonymous.close();
    }
  } finally {
    await etcd.stop();
  }
});

Deno.test("etcd: unreadable TLS files are a settings error naming the field", async () => {
  await assert.rejects(
    () =>
      openStore({
        kind: "etcd",
        endpoints: ["https://127.0.0.1:1"],
        caCertFile: "/nonexistent/ca.pem",
        timeoutMs: 100,
      }),
    (e: unknown) =>
      e instanceof StoreSettingsError && e.field === "etcd_ca_cert_file" && /nonexistent/.test(e.message),
  );
});

Deno.test("settings from a CNI config", () => {
  assert.deepEqual(storeSettingsFromConfig({}), { kind: "file", dir: DEFAULT_STORE_DIR });
  assert.equal(DEFAULT_STORE_DIR, "/var/lib/cni/anchor");
  assert.deepEqual(storeSettingsFromConfig({ type: "anchor", store: "/srv/lab", etcd_endpoints: "" }), {
    kind: "file",
    dir: "/srv/lab",
  });
  assert.deepEqual(storeSettingsFromConfig({ store: "/srv/lab", etcd_timeout_ms: 500 }), {
    kind: "file",
    dir: "/srv/lab",
  });
  assert.deepEqual(
    storeSettingsFromConfig({
      type: "anchor",
      etcd_endpoints: "https://192.168.100.86:12379, https://192.168.100.87:12379",
      etcd_cert_file: "/etc/anchor/cert.pem",
      etcd_key_file: "/etc/anchor/key.pem",
      etcd_ca_cert_file: "/etc/anchor/ca.pem",
      service_ipnet: "10.96.0.0/12",
    }),
    {
      kind: "etcd",
      endpoints: ["https://192.168.100.86:12379", "https://192.168.100.87:12379"],
      certFile: "/etc/anchor/cert.pem",
      keyFile: "/etc/anchor/key.pem",
      caCertFile: "/etc/anchor/ca.pem",
      timeoutMs: 2000,
    },
  );
  assert.deepEqual(
    storeSettingsFromConfig({
      etcd_endpoints: ["10.0.0.1:2379", "http://10.0.0.2"],
      etcd_username: "u",
      etcd_password: "p",
      etcd_timeout_ms: "750",
    }),
    {
      kind: "etcd",
      endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
      username: "u",
      password: "p",
      timeoutMs: 750,
    },
  );
  assert.deepEqual(
    storeSettingsFromConfig({ type: "ratchet", etcd_host: "192.168.1.119", etcd_port: 12379 }),
    {
      kind: "etcd",
      endpoints: ["http://192.168.1.119:12379"],
      timeoutMs: 2000,
    },
  );
  assert.deepEqual((storeSettingsFromConfig({ etcd_host: "fd00::1" }) as { endpoints: string[] }).endpoints, [
    "http://[fd00::1]:2379",
  ]);
  assert.deepEqual(
    (storeSettingsFromConfig({ etcd_host: "etcd.local", etcd_port: "4001" }) as { endpoints: string[] })
      .endpoints,
    [
      "http://etcd.local:4001",
    ],
  );
});

Deno.test("settings errors name the field the user wrote", () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ store: "/x", etcd_endpoints: "http://a:1" }, "store", /both given; use one/],
    [{ store: "/x", etcd_host: "a" }, "store", /etcd_host/],
    [{ etcd_endpoints: "http://a:1", etcd_host: "b" }, "etcd_host", /not both/],
    [
      { etcd_endpoints: "https://a:1", etcd_cert_file: "/c" },
      "etcd_key_file",
      /required with etcd_cert_file/,
    ],
    [{ etcd_endpoints: "http://a:1", etcd_ca_cert_file: "/c" }, "etcd_ca_cert_file", /need https/],
    [{ etcd_endpoints: "http://a:1,https://b:2" }, "etcd_endpoints", /mixes/],
    [{ etcd_endpoints: "ftp://a:1" }, "etcd_endpoints", /http:\/\/ or https:\/\//],
    [{ etcd_endpoints: "http://a:1/v2/keys" }, "etcd_endpoints", /scheme:\/\/host:port only/],
    [{ etcd_endpoints: " , " }, "etcd_endpoints", /no endpoint/],
    [{ etcd_endpoints: [5] }, "etcd_endpoints[0]", /non-empty string/],
    [{ etcd_endpoints: "http://a:1", etcd_timeout_ms: -5 }, "etcd_timeout_ms", /positive/],
    [{ etcd_host: "a", etcd_port: 70000 }, "etcd_port", /1-65535/],
    [{ etcd_port: 2379 }, "etcd_endpoints", /required/],
    [{ etcd_endpoints: "http://a:1", etcd_username: "u" }, "etcd_password", /required with etcd_username/],
    [{ store: 7 }, "store", /non-empty string/],
  ];
  for (const [config, field, message] of cases) {
    assert.throws(() => storeSettingsFromConfig(config), (e: unknown) => {
      assert.ok(e instanceof StoreSettingsError, `${JSON.stringify(config)} should fail`);
      assert.equal(e.field, field, JSON.stringify(config));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("settings from CLI flags parsed with node:util parseArgs", () => {
  const parse = (args: string[]) =>
    storeSettingsFromFlags(parseArgs({ args, options: storeFlagOptions }).values);
  assert.deepEqual(parse([]), { kind: "file", dir: DEFAULT_STORE_DIR });
  assert.deepEqual(parse(["--store", "/tmp/lab"]), { kind: "file", dir: "/tmp/lab" });
  assert.deepEqual(
    parse([
      "--etcd-endpoints",
      "https://10.0.0.1:2379,https://10.0.0.2:2379",
      "--etcd-cert-file",
      "/c.pem",
      "--etcd-key-file",
      "/k.pem",
      "--etcd-ca-cert-file",
      "/ca.pem",
      "--etcd-username",
      "root",
      "--etcd-password",
      "pw",
      "--etcd-timeout-ms",
      "900",
    ]),
    {
      kind: "etcd",
      endpoints: ["https://10.0.0.1:2379", "https://10.0.0.2:2379"],
      certFile: "/c.pem",
      keyFile: "/k.pem",
      caCertFile: "/ca.pem",
      username: "root",
      password: "pw",
      timeoutMs: 900,
    },
  );
  assert.throws(
    () => parse(["--store", "/tmp/lab", "--etcd-endpoints", "http://127.0.0.1:2379"]),
    (e: unknown) =>
      e instanceof StoreSettingsError && e.field === "--store" && /--etcd-endpoints/.test(e.message),
  );
  assert.throws(
    () => parse(["--etcd-endpoints", "https://a:1", "--etcd-key-file", "/k"]),
    /--etcd-cert-file: is required with --etcd-key-file/,
  );
});

Deno.test("no plugin path loads gRPC: the program's whole module graph, lazy imports included, has none", async () => {
  // deno info follows dynamic import() of literal specifiers too, so this covers every role's every
  // path (ADD, DEL, CHECK, GC, STATUS, the child, monkey): the etcd backend is plain fetch.
  const main = new URL("../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", main], stdout: "piped" })
    .output();
  assert.ok(out.success);
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: { specifier: string }[] };
  const specifiers = graph.modules.map((m) => m.specifier);
  assert.ok(
    specifiers.some((s) => s.endsWith("/mod/store/etcd_store.ts")),
    "the etcd backend is in the graph",
  );
  assert.ok(specifiers.includes("node:sqlite"));
  assert.deepEqual(specifiers.filter((s) => /grpc|protobuf|etcd3/i.test(s)), []);
  assert.deepEqual(
    specifiers.filter((s) => s.startsWith("npm:")),
    ["npm:/@dagrejs/dagre@3.1.3", "npm:/yaml@2.9.1"],
    "dagre (the picture) and yaml (the DSL) only; picture_test keeps both off every plugin's path",
  );
});
