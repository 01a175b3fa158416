/**
 * One store client in its own process, for the concurrency, crash and start-up tests.
 *
 *   store_worker.ts <settings-json> increment <key> <times>    -> {"ok":true,"values":[...]}
 *   store_worker.ts <settings-json> claim <prefix> <slots> <id> -> {"ok":true,"key":"<prefix>7"}
 *   store_worker.ts <settings-json> probe <key>                 -> {"ok":true,"openMs":..,"getMs":..,"closeMs":..}
 *   store_worker.ts <settings-json> hammer <key>                -> puts forever, until killed
 *
 * Failures print {"ok":false,"name":..,"message":..,"temporary":..} and exit 1, so the parent asserts
 * on what happened, not just on an exit code.
 */
import { claimFirst, increment, openStore, type StoreSettings } from "../../mod/store/mod.ts";

const [settingsJson, mode, ...args] = Deno.args;

async function main(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const store = await openStore(JSON.parse(settingsJson) as StoreSettings);
  const t1 = performance.now();
  try {
    switch (mode) {
      case "increment": {
        const values: number[] = [];
        for (let i = 0; i < Number(args[1]); i++) values.push(await increment(store, args[0]));
        return { values };
      }
      case "claim": {
        const slots = Array.from({ length: Number(args[1]) }, (_, i) => `${args[0]}${i}`);
        return { key: await claimFirst(store, slots, args[2]) ?? null };
      }
      case "probe": {
        const kv = await store.get(args[0]);
        const t2 = performance.now();
        await store.close();
        return { value: kv?.value ?? null, openMs: t1 - t0, getMs: t2 - t1, closeMs: performance.now() - t2 };
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

try {
  console.log(JSON.stringify({ ok: true, ...(await main()) }));
} catch (e) {
  const err = e as Error & { temporary?: boolean };
  console.log(
    JSON.stringify({ ok: false, name: err.name, message: err.message, temporary: err.temporary ?? false }),
  );
  Deno.exitCode = 1;
}
