/**
 * mod/store against real backends: the same contract suite on the file store (a temp dir) and on a
 * real etcd 3.4 started for the test, then each backend's own failure modes, with real processes.
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import {
  casUpdate,
  claim,
  claimFirst,
  DEFAULT_STORE_DIR,
  describeSettings,
  increment,
  openStore,
  type Store,
  StoreConflictError,
  StoreCorruptError,
  StoreError,
  storeFlagOptions,
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
  name: "file" | "etcd";
  /** How many processes race in the cross-process tests; etcd's client costs ~0.25 s of CPU each to load. */
  processes: number;
  setup(): Promise<{ settings: StoreSettings; teardown(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "file",
    processes: 200,
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
    processes: 50,
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

/**
 * Runs `count` workers that start their store work at the same moment (see the barrier in
 * store_worker.ts) and returns their results.
 */
async function race(
  settings: StoreSettings,
  count: number,
  args: (i: number) => string[],
): Promise<WorkerResult[]> {
  const barrier = await Deno.makeTempDir({ prefix: "rt-barrier-" });
  const gate = await Deno.open(`${barrier}/gate`, { write: true, create: true });
  await gate.lock(true);
  const children: Deno.ChildProcess[] = [];
  try {
    // Dozens of processes loading gRPC at once starve two CPUs for seconds; that is not what the
    // race is about, so the workers get a patient deadline.
    const patient: StoreSettings = settings.kind === "etcd" ? { ...settings, timeoutMs: 30_000 } : settings;
    for (let i = 0; i < count; i++) {
      children.push(workerCommand(patient, args(i), { STORE_BARRIER: barrier }).spawn());
    }
    const outputs = children.map((c) => c.output());
    let exited = 0;
    for (const output of outputs) output.then(() => exited++, () => exited++);
    // The gate file is in the directory too, hence more than count.
    await until(
      () => exited > 0 || [...Deno.readDirSync(barrier)].length > count,
      `${count} workers ready`,
      120_000,
    );
    assert.equal(exited, 0, "no worker may end before the start signal");
    await gate.unlock();
    const results = await Promise.all(outputs);
    return results.map((out, i) => {
      const text = new TextDecoder().decode(out.stdout).trim();
      assert.ok(text, `worker ${i} printed nothing; stderr: ${new TextDecoder().decode(out.stderr)}`);
      return JSON.parse(text) as WorkerResult;
    });
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited, which is the normal case.
      }
    }
    await Promise.allSettled(children.map((c) => c.status));
    gate.close();
    await Deno.remove(barrier, { recursive: true });
  }
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
          backend.name === "file" ? /^file store \/.+\/anchor$/ : /^etcd http:\/\/127\.0\.0\.1:\d+$/,
        );
      });

      await t.step("get, put, delete and versions", async () => {
        assert.equal(await store.get("/t1/a"), undefined);
        await store.put("/t1/a", "one");
        const first = await other.get("/t1/a");
        assert.ok(first);
        assert.equal(first.value, "one");
        assert.equal(first.version, 1);
        assert.equal(first.createRevision, first.modRevision);

        await store.put("/t1/a", "two");
        const second = await other.get("/t1/a");
        assert.ok(second);
        assert.equal(second.value, "two");
        assert.equal(second.version, 2);
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
        const events: WatchEvent[] = [];
        const watch = await store.watch("/t7/", (ev) => events.push(ev));
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
        await assert.rejects(() => casUpdate(losing, "/t10/busy", () => "x", 3), (e: unknown) => {
          assert.ok(e instanceof StoreConflictError);
          assert.equal(e.key, "/t10/busy");
          assert.equal(e.attempts, 4);
          assert.equal(e.temporary, true);
          return true;
        });
        assert.equal(reads, 4, "each attempt re-reads");
        assert.equal((await store.get("/t10/busy"))?.value, "0");
      });

      await t.step("claim is put-if-absent", async () => {
        assert.equal(await claim(store, "/t11/ip/10.0.1.2", "c1"), true);
        assert.equal(await claim(other, "/t11/ip/10.0.1.2", "c2"), false);
        assert.equal((await store.get("/t11/ip/10.0.1.2"))?.value, "c1");
        assert.equal(
          await claimFirst(other, ["/t11/ip/10.0.1.2", "/t11/ip/10.0.1.3", "/t11/ip/10.0.1.4"], "c2"),
          "/t11/ip/10.0.1.3",
        );
        assert.equal(await claimFirst(store, ["/t11/ip/10.0.1.2", "/t11/ip/10.0.1.3"], "c3"), undefined);
        const winners = await Promise.all(
          Array.from({ length: 20 }, (_, i) => claim(i % 2 ? store : other, "/t11/one", `c${i}`)),
        );
        assert.equal(winners.filter(Boolean).length, 1);
        assert.equal((await store.get("/t11/one"))?.value, `c${winners.indexOf(true)}`);
      });

      await t.step("increment hands out each number once, starting where asked", async () => {
        assert.equal(await increment(store, "/t12/vxlanid", 11), 11);
        assert.equal(await increment(other, "/t12/vxlanid", 11), 12);
        const many = await Promise.all(
          Array.from({ length: 20 }, (_, i) => increment(i % 2 ? store : other, "/t12/vxlanid")),
        );
        assert.deepEqual(many.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => 13 + i));
        await store.put("/t12/bad", "eleven");
        await assert.rejects(() => increment(store, "/t12/bad"), /not a whole number/);
      });

      await t.step(`${backend.processes} processes incrementing at once lose no update`, async () => {
        const results = await race(env.settings, backend.processes, () => ["increment", "/t13/counter", "2"]);
        const failed = results.filter((r) => !r.ok);
        assert.deepEqual(failed, [], "every worker succeeded");
        const values = results.flatMap((r) => r.values!).sort((a, b) => a - b);
        assert.deepEqual(
          values,
          Array.from({ length: 2 * backend.processes }, (_, i) => i + 1),
          "no duplicate, no gap",
        );
        assert.equal((await store.get("/t13/counter"))?.value, String(2 * backend.processes));
      });

      await t.step(`${backend.processes} processes claiming from one pool never share a slot`, async () => {
        const n = backend.processes;
        const results = await race(env.settings, n, (i) => ["claim", "/t14/slot/", String(n), `worker${i}`]);
        assert.deepEqual(results.filter((r) => !r.ok), []);
        const keys = results.map((r) => r.key);
        assert.equal(new Set(keys).size, n, "each worker got its own slot");
        const stored = await store.list("/t14/slot/");
        assert.equal(stored.length, n);
        for (const [i, key] of keys.entries()) {
          assert.equal(
            stored.find((kv) => kv.key === key)?.value,
            `worker${i}`,
            `slot ${key} holds its claimer's value`,
          );
        }
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
          cost.wallMs < (backend.name === "file" ? 1500 : 3000),
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

/** A test on a fresh file store whose directory (`<tmp>/anchor`) does not exist until the first write. */
function fileStoreTest(name: string, fn: (store: Store, dir: string) => Promise<void>): void {
  Deno.test(`file store: ${name}`, async () => {
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

fileStoreTest("the data file is readable JSON in the documented shape", async (store, dir) => {
  await store.put("/anchor/ns/default", "10.0.1.[2-9]");
  await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
  await store.put("/anchor/ns/default", "10.0.1.[2-20]");
  const text = await Deno.readTextFile(`${dir}/store.json`);
  assert.deepEqual(JSON.parse(text), {
    revision: 3,
    keys: {
      "/anchor/gw/10.0.1.0/24": { value: "10.0.1.1", createRevision: 2, modRevision: 2, version: 1 },
      "/anchor/ns/default": { value: "10.0.1.[2-20]", createRevision: 1, modRevision: 3, version: 2 },
    },
  });
  assert.ok(
    text.startsWith('{\n  "revision": 3,\n  "keys": {\n    "/anchor/gw/'),
    "pretty, with keys sorted",
  );
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["store.json", "store.lock"]);
});

fileStoreTest("reads do not create the directory; the first write does", async (store, dir) => {
  assert.equal(await store.get("/a"), undefined);
  assert.deepEqual(await store.list("/"), []);
  assert.equal(await store.waitFor("/a", (kv) => kv !== undefined, 50), undefined);
  await assert.rejects(() => Deno.stat(dir), Deno.errors.NotFound);
  await store.put("/a", "1");
  assert.equal((await Deno.stat(`${dir}/store.json`)).isFile, true);
});

fileStoreTest("a leftover temp file from a crash does not matter", async (store, dir) => {
  await store.put("/kept", "yes");
  await Deno.writeTextFile(`${dir}/store.json.tmp`, '{"revision": 99, "keys": {"/half');
  assert.equal((await store.get("/kept"))?.value, "yes", "readers ignore the temp file");
  await store.put("/next", "ok");
  assert.deepEqual((await store.list("/")).map((kv) => kv.key), ["/kept", "/next"]);
  await assert.rejects(
    () => Deno.stat(`${dir}/store.json.tmp`),
    Deno.errors.NotFound,
    "the next write replaced it",
  );
  assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/store.json`)).revision, 2);
});

fileStoreTest("a corrupt data file is reported and left alone", async (store, dir) => {
  await Deno.mkdir(dir);
  const broken = [
    '{"revision": 1, "keys": {"/a": ',
    '{"keys": {}}',
    '{"revision": 1, "keys": {"/a": {"value": 5}}}',
  ];
  for (const bad of broken) {
    await Deno.writeTextFile(`${dir}/store.json`, bad);
    await assert.rejects(() => store.get("/a"), (e: unknown) => {
      assert.ok(e instanceof StoreCorruptError);
      assert.equal(e.path, `${dir}/store.json`);
      assert.match(e.message, /store\.json is corrupt/);
      return true;
    });
    await assert.rejects(() => store.put("/b", "x"), StoreCorruptError);
    assert.equal(await Deno.readTextFile(`${dir}/store.json`), bad, "a write did not paper over it");
  }
});

fileStoreTest("writers killed mid-write never leave an unreadable file", async (store, dir) => {
  const settings: StoreSettings = { kind: "file", dir };
  const children: Deno.ChildProcess[] = [];
  try {
    await store.put("/crash/base", "kept");
    let reads = 0;
    let lastRevision = 0;
    for (let round = 0; round < 4; round++) {
      const writers = [0, 1, 2].map((i) => workerCommand(settings, ["hammer", `/crash/${i}/`]).spawn());
      children.push(...writers);
      // Read while they write, then kill them at an arbitrary moment.
      const stopAt = Date.now() + 400 + Math.random() * 400;
      while (Date.now() < stopAt) {
        const data = JSON.parse(await Deno.readTextFile(`${dir}/store.json`));
        assert.ok(data.revision >= lastRevision, "the revision never goes back");
        lastRevision = data.revision;
        reads++;
        await sleep(2);
      }
      for (const writer of writers) writer.kill("SIGKILL");
      await Promise.all(writers.map((c) => c.status));
      const data = JSON.parse(await Deno.readTextFile(`${dir}/store.json`));
      assert.equal(data.keys["/crash/base"].value, "kept");
    }
    assert.ok(lastRevision > 20, `the writers made progress (revision ${lastRevision})`);
    assert.ok(reads > 50);
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

fileStoreTest("a closed store refuses work and stops its timers", async (store) => {
  await store.watch("/", () => {});
  await store.close();
  await assert.rejects(() => store.get("/a"), /is closed/);
  await assert.rejects(() => store.put("/a", "1"), /is closed/);
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
    await assertUnavailable(() => claim(store, "/a", "1"), endpoint, TIMEOUT_MS);
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
    const events: WatchEvent[] = [];
    const watch = await store.watch("/k/", (ev) => events.push(ev));
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
        assert.match(e.message, /unable to verify the first certificate/, "the server is verified");
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
      assert.match(e.message, /IP: 127\.0\.0\.1 is not in the cert's list: 127\.0\.0\.9/);
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
    // Turning auth on is an admin task outside the store's interface; the test uses the client directly.
    const { Etcd3 } = await import("etcd3");
    const admin = new Etcd3({ hosts: etcd.endpoint });
    try {
      await admin.role("root").create();
      await admin.user("root").create("s3cret");
      await admin.user("root").addRole("root");
      await admin.auth.authEnable({});
    } finally {
      admin.close();
    }
    const config = { etcd_endpoints: etcd.endpoint, etcd_username: "root", etcd_timeout_ms: TIMEOUT_MS };
    const good = await openStore(storeSettingsFromConfig({ ...config, etcd_password: "s3cret" }));
    const bad = await openStore(storeSettingsFromConfig({ ...config, etcd_password: "wrong" }));
    const anonymous = await openStore(etcdSettings(etcd.endpoint));
    try {
      assert.equal(await claim(good, "/auth/a", "1"), true);
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
