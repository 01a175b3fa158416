/**
 * The node's waiter lease (mod/ratchet/waiter.ts ensureWaiter), in process on a throwaway SQLite
 * store: a waiter started moments ago is not doubled while it is still exec'ing (its /proc cmdline
 * can read empty then), and a recorded waiter that is gone is replaced.
 */
import assert from "node:assert/strict";
import { openStore } from "../mod/store/open.ts";
import { loadRatchetConf } from "../mod/ratchet/conf.ts";
import { KEY, type WaiterRecord } from "../mod/ratchet/keys.ts";
import { ensureWaiter, START_LEASE_MS } from "../mod/ratchet/waiter.ts";

/** A store, a conf whose child is `/bin/true` (a start that proves itself and exits), and `sleep` as a live non-waiter. */
async function withLease(
  fn: (ctx: {
    store: Awaited<ReturnType<typeof openStore>>;
    conf: ReturnType<typeof loadRatchetConf>;
    live: number;
  }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "waiter-lease-" });
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    await using store = await openStore({ kind: "file", dir });
    const conf = loadRatchetConf({
      cniVersion: "1.0.0",
      name: "lease",
      type: "ratchet",
      store: dir,
      kubernetes: { node_name: "lease-node" },
      child_path: "/bin/true",
      delegate: { type: "loopback" },
    });
    await fn({ store, conf, live: sleeper.pid });
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a waiter recorded a moment ago is not doubled while its command line does not show yet", async () => {
  await withLease(async ({ store, conf, live }) => {
    // A live process that is not (yet) a waiter by its cmdline: a waiter mid-exec looks like this.
    const rec = JSON.stringify({ pid: live, at: Date.now() } satisfies WaiterRecord);
    await store.put(KEY.waiter(conf.node), rec);
    assert.equal(await ensureWaiter(store, conf), undefined, "no second waiter");
    assert.equal((await store.get(KEY.waiter(conf.node)))?.value, rec, "the lease is left as it was");
  });
});

Deno.test("a recorded waiter that is gone, or older than the start lease and not a waiter, is replaced", async () => {
  await withLease(async ({ store, conf, live }) => {
    for (
      const rec of [
        { pid: 2 ** 22 + 1, at: Date.now() }, // above the largest pid_max (2^22): no such process
        { pid: live, at: Date.now() - START_LEASE_MS - 1 }, // alive, but not a waiter, and past its start
      ]
    ) {
      await store.put(KEY.waiter(conf.node), JSON.stringify(rec));
      const pid = await ensureWaiter(store, conf);
      assert.ok(pid !== undefined && pid !== rec.pid, `a new waiter replaces ${JSON.stringify(rec)}`);
      const now = JSON.parse((await store.get(KEY.waiter(conf.node)))!.value) as WaiterRecord;
      assert.equal(now.pid, pid, "the lease names the new waiter");
    }
  });
});
