import assert from "node:assert/strict";
import { parseCidr } from "../mod/ip/mod.ts";
import {
  GUARD_PREFIX,
  GUARDED_KEY,
  guardKey,
  guardRange,
  poolKey,
  RECORD_PREFIX,
  recordKey,
} from "../mod/ipam/mod.ts";
import { openStore, type Store, type StoreSettings } from "../mod/store/mod.ts";
import { startEtcd } from "./lib/etcd.ts";
import { addInProcess } from "./lib/anchor_fixture.ts";

function add(store: Store, id: string) {
  return addInProcess(store, id, "10.0.0.0/16");
}

/**
 * The original anchor's records carry no guard. The first ADD that claims guards them all, in batches
 * etcd accepts (130 records: more than one transaction of etcd's default 128 operations), and marks the
 * store; every ADD after it reads guards alone and still never hands out a legacy record's address.
 */
async function legacyBackfill(settings: StoreSettings): Promise<void> {
  await using store = await openStore(settings);
  await store.put(poolKey("default"), "10.0.1.[2-254]");
  await store.put("/anchor/gw/10.0.0.0/16", "10.0.0.1");
  const legacy = Array.from({ length: 130 }, (_, i) => ({ id: `orig${i}`, ip: `10.0.1.${i + 2}` }));
  for (let from = 0; from < legacy.length; from += 50) {
    await store.txn(
      [],
      legacy.slice(from, from + 50).map((r) => ({
        put: recordKey(r.id),
        value: `${r.ip},${r.id},default,web`,
      })),
    );
  }
  // Two original records on one address (the original could collide across namespaces): one guard serves both.
  await store.put(recordKey("twinA"), "10.0.1.140,a,other,web");
  await store.put(recordKey("twinB"), "10.0.1.140,b,default,web");

  assert.equal(
    (await add(store, "c1")).record.ip,
    "10.0.1.132",
    "the first ADD reads the records themselves",
  );
  assert.ok(await store.get(GUARDED_KEY), "the store is marked");
  for (const r of legacy) assert.equal((await store.get(guardKey(r.ip)))?.value, r.id, `guard of ${r.ip}`);
  assert.match((await store.get(guardKey("10.0.1.140")))!.value, /^twin[AB]$/);
  assert.equal((await store.list(GUARD_PREFIX)).length, 130 + 1 + 1);

  // Later ADDs read only the guards; the legacy addresses stay taken, and so does the twins' one.
  const got = [];
  for (let i = 2; i <= 9; i++) got.push((await add(store, `c${i}`)).record.ip);
  assert.deepEqual(got, [
    "10.0.1.133",
    "10.0.1.134",
    "10.0.1.135",
    "10.0.1.136",
    "10.0.1.137",
    "10.0.1.138",
    "10.0.1.139",
    "10.0.1.141",
  ]);
  // Idempotent ADD still finds the container's own record by its key.
  const again = await add(store, "c3");
  assert.equal(again.reused, true);
  assert.equal(again.record.ip, "10.0.1.134");
  assert.equal((await store.list(RECORD_PREFIX)).length, 130 + 2 + 9);
}

Deno.test("legacy records without guards get them once, then ADD reads guards alone (sqlite store)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rt-guards-" });
  try {
    await legacyBackfill({ kind: "file", dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("legacy records without guards get them once, then ADD reads guards alone (etcd)", async () => {
  const etcd = await startEtcd();
  try {
    await legacyBackfill({ kind: "etcd", endpoints: [etcd.endpoint], timeoutMs: 5000 });
  } finally {
    await etcd.stop();
  }
});

Deno.test("guardRange: the whole octets a subnet fixes, with their dot; IPv6 lists every guard", () => {
  const cases: [string, string][] = [
    ["10.8.0.0/16", "/anchor/ip/10.8."],
    ["10.0.1.0/24", "/anchor/ip/10.0.1."],
    ["10.0.16.0/20", "/anchor/ip/10.0."],
    ["10.0.1.128/25", "/anchor/ip/10.0.1."],
    ["10.0.0.0/7", "/anchor/ip/"],
    ["fd00:1::/64", "/anchor/ip/"],
  ];
  for (const [subnet, prefix] of cases) assert.equal(guardRange(parseCidr(subnet)), prefix, subnet);
});
