/**
 * One store client in its own process, for the crash, migration and start-up tests.
 *
 *   store_worker.ts <settings-json> probe <key>                 -> {"ok":true,"value":..,"openMs":..,"getMs":..,"closeMs":..}
 *   store_worker.ts <settings-json> linger <prefix>             -> {"ok":true,"waitFor":"StoreError: ..."}
 *   store_worker.ts <settings-json> hammer <key>                -> puts forever, until killed
 *
 * Failures print {"ok":false,"name":..,"message":..,"temporary":..} and exit 1, so the parent asserts
 * on what happened, not just on an exit code.
 */
import { openStore, type StoreSettings } from "../../mod/store/mod.ts";

const [settingsJson, mode, ...args] = Deno.args;

async function main(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const store = await openStore(JSON.parse(settingsJson) as StoreSettings);
  const t1 = performance.now();
  try {
    switch (mode) {
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

try {
  console.log(JSON.stringify({ ok: true, ...(await main()) }));
} catch (e) {
  const err = e as Error & { temporary?: boolean };
  console.log(
    JSON.stringify({ ok: false, name: err.name, message: err.message, temporary: err.temporary ?? false }),
  );
  Deno.exitCode = 1;
}
