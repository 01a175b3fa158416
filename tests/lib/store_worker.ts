/**
 * One store client in its own process, for the concurrency, crash and start-up tests.
 *
 *   store_worker.ts <settings-json> increment <key> <times>    -> {"ok":true,"values":[...]}
 *   store_worker.ts <settings-json> claim <prefix> <slots> <id> -> {"ok":true,"key":"<prefix>7","rounds":2}
 *   store_worker.ts <settings-json> probe <key>                 -> {"ok":true,"openMs":..,"getMs":..,"closeMs":..}
 *   store_worker.ts <settings-json> linger <prefix>             -> {"ok":true,"waitFor":"StoreError: ..."}
 *   store_worker.ts <settings-json> hammer <key>                -> puts forever, until killed
 *
 * Failures print {"ok":false,"name":..,"message":..,"temporary":..} and exit 1, so the parent asserts
 * on what happened, not just on an exit code.
 *
 * With STORE_BARRIER=<dir>, the worker warms up (one get: loads the client, connects), creates
 * <dir>/ready.<pid>, and starts only once it gets a shared flock on <dir>/gate, which the parent holds
 * exclusively until every worker is ready: process start-up is slow and staggered, and without a
 * barrier the "concurrent" workers would mostly run one after another. Waiting on a lock costs no CPU,
 * unlike polling, which would slow the start-up of the others.
 */
import { claimFirst, increment, openStore, type StoreSettings } from "../../mod/store/mod.ts";

const [settingsJson, mode, ...args] = Deno.args;

async function main(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const store = await openStore(JSON.parse(settingsJson) as StoreSettings);
  const t1 = performance.now();
  try {
    const barrier = Deno.env.get("STORE_BARRIER");
    if (barrier) await waitAtBarrier(barrier, () => store.get("/warm-up"));
    switch (mode) {
      case "increment": {
        const values: number[] = [];
        for (let i = 0; i < Number(args[1]); i++) values.push(await increment(store, args[0]));
        return { values };
      }
      case "claim": {
        // The pattern an allocator uses: skip what one list shows taken, claim, and re-list on a lost race.
        const slots = Array.from({ length: Number(args[1]) }, (_, i) => `${args[0]}${i}`);
        for (let round = 0;; round++) {
          const taken = new Set((await store.list(args[0])).map((kv) => kv.key));
          const free = slots.filter((k) => !taken.has(k));
          if (free.length === 0) return { key: null, rounds: round + 1 };
          const key = await claimFirst(store, free.slice(0, 3), args[2]);
          if (key) return { key, rounds: round + 1 };
        }
      }
      case "probe": {
        const kv = await store.get(args[0]);
        const t2 = performance.now();
        await store.close();
        return { value: kv?.value ?? null, openMs: t1 - t0, getMs: t2 - t1, closeMs: performance.now() - t2 };
      }
      case "linger": {
        // Leaves a watch and a waitFor open on purpose: close() alone must let the process end.
        await store.watch(args[0], () => {});
        const waiting = store.waitFor(`${args[0]}never`, () => false, 60_000).catch((e) => e);
        await store.close();
        return { waitFor: String(await waiting) };
      }
      case "hammer": {
        for (let i = 0;; i++) await store.put(`${args[0]}${i % 50}`, "x".repeat(i % 4000));
      }
    }
    throw new Error(`unknown mode ${mode}`);
  } finally {
    await store.close();
  }
}

async function waitAtBarrier(dir: string, warmUp: () => Promise<unknown>): Promise<void> {
  await warmUp();
  using gate = await Deno.open(`${dir}/gate`, { read: true });
  await Deno.writeTextFile(`${dir}/ready.${Deno.pid}`, "");
  await gate.lock(false);
}

try {
  console.log(JSON.stringify({ ok: true, ...(await main()) }));
} catch (e) {
  const err = e as Error & { temporary?: boolean };
  console.log(
    JSON.stringify({ ok: false, name: err.name, message: err.message, temporary: err.temporary ?? false }),
  );
  Deno.exitCode = 1;
}
