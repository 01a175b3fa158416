/**
 * ADD's cost does not grow with the pool's allocations: it asks guards one address at a time from the
 * last address claimed (`/anchor/last/`), as host-local does. Asserted on the address handed out and
 * on the store reads, counted by a wrapper of the real store, never on a timing.
 */
import assert from "node:assert/strict";
import { formatIp } from "../mod/ip/mod.ts";
import {
  GUARDED_KEY,
  guardKey,
  lastKey,
  PoolExhaustedError,
  poolKey,
  recordKey,
  release,
} from "../mod/ipam/mod.ts";
import { openStore, type Store } from "../mod/store/mod.ts";
import { addInProcess, openAnchorStore, STORE_KINDS } from "./lib/anchor_fixture.ts";

const CROWD = 2000;

/** What ADD asked the store. */
interface Reads {
  get: number;
  list: number;
  listKeys: number;
  /** Keys returned by list and listKeys together. */
  keys: number;
}

/** The real store, with its reads counted. */
function counted(store: Store): { store: Store; reads: Reads; reset(): void } {
  const reads: Reads = { get: 0, list: 0, listKeys: 0, keys: 0 };
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === "get") {
        return (key: string) => {
          reads.get++;
          return target.get(key);
        };
      }
      if (prop === "list" || prop === "listKeys") {
        return async (prefix: string) => {
          reads[prop]++;
          const out = await target[prop](prefix);
          reads.keys += out.length;
          return out;
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return {
    store: proxy,
    reads,
    reset: () => Object.assign(reads, { get: 0, list: 0, listKeys: 0, keys: 0 }),
  };
}

function add(store: Store, id: string, subnet = "10.0.0.0/16") {
  return addInProcess(store, id, subnet);
}

/** Fills the pool's first CROWD addresses (10.0.0.2 on) as ADDs would, but with no last address stored. */
async function crowd(store: Store): Promise<void> {
  await store.put(poolKey("default"), "10.0.0.0/20");
  await store.put("/anchor/gw/10.0.0.0/16", "10.0.0.1");
  await store.put(GUARDED_KEY, "2026-01-01T00:00:00.000Z");
  // 100 operations a transaction: within etcd's default limit of 128.
  for (let from = 0; from < CROWD; from += 50) {
    const ops = [];
    for (let i = from; i < from + 50; i++) {
      const ip = formatIp({ family: 4, value: 0x0a000002n + BigInt(i) });
      ops.push({ put: recordKey(`crowd-${i}`), value: `${ip},p,default,web,eth0,n1,net,` });
      ops.push({ put: guardKey(ip), value: `crowd-${i}` });
    }
    await store.txn([], ops);
  }
}

async function flat(real: Store): Promise<void> {
  await crowd(real);
  const { store, reads, reset } = counted(real);

  // No last address yet (a store filled before it existed): 16 guards asked, then one scan of the
  // subnet's guard names, and the first free address.
  const first = await add(store, "c1");
  assert.equal(first.record.ip, "10.0.7.210", "the first free address after 2,000 taken");
  assert.equal(reads.listKeys, 1, "one scan of the guards");
  assert.equal((await real.get(lastKey("default", "10.0.0.0/16")))?.value, "10.0.7.210");

  // From then on, ADD asks a handful of keys, whatever the pool holds.
  reset();
  const second = await add(store, "c2");
  assert.equal(second.record.ip, "10.0.7.211");
  assert.deepEqual(reads, { get: 4, list: 2, listKeys: 0, keys: 1 }, "backfill mark, pool, last, one guard");

  reset();
  const again = await add(store, "c2");
  assert.equal(again.reused, true, "idempotent ADD finds the container's record by its key");
  assert.equal(again.record.ip, "10.0.7.211");
  assert.deepEqual(reads, { get: 3, list: 2, listKeys: 0, keys: 2 }, "its own record, no guard asked");

  // A freed address is not handed out again at once (host-local's order) ...
  assert.equal((await release(real, "crowd-5")).length, 1);
  assert.equal((await add(store, "c3")).record.ip, "10.0.7.212");
  // ... but when the walk wraps around from the pool's end, by point lookups still.
  await real.put(lastKey("default", "10.0.0.0/16"), "10.0.15.254");
  reset();
  assert.equal((await add(store, "c4")).record.ip, "10.0.0.7", "the freed address, after the wrap");
  assert.equal(reads.listKeys, 0);
  assert.equal(reads.get, 3 + 6, "10.0.0.2 to 10.0.0.7 asked, the gateway 10.0.0.1 skipped");

  // A last address that is not an address of the subnet's family is ignored, not trusted.
  await real.put(lastKey("default", "10.0.0.0/16"), "fd00::1");
  assert.equal((await add(store, "c5")).record.ip, "10.0.7.213");
}

for (const kind of STORE_KINDS) {
  Deno.test(`ADD on a pool holding 2,000 allocations asks a handful of keys, from the last address claimed (${kind} store)`, async () => {
    const s = await openAnchorStore(kind);
    try {
      await flat(s.store);
    } finally {
      await s.close();
    }
  });
}

Deno.test("the walk wraps around, skips gateways, ends in the exhausted error, and works for IPv6", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rt-probe-" });
  try {
    await using store = await openStore({ kind: "file", dir });
    await store.put(poolKey("default"), "10.0.1.[1-5],fd00:1::[fffd-ffff],fd00:1::1:0/126");
    await store.put("/anchor/gw/10.0.1.0/24", "10.0.1.1");
    await store.put("/anchor/gw/fd00:1::/64", "fd00:1::1:1");
    const v4 = [];
    for (const id of ["a", "b", "c", "d"]) v4.push((await add(store, id, "10.0.1.0/24")).record.ip);
    assert.deepEqual(v4, ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"], "the gateway 10.0.1.1 skipped");
    await release(store, "b");
    assert.equal((await add(store, "e", "10.0.1.0/24")).record.ip, "10.0.1.3", "wrapped to the freed one");
    await assert.rejects(
      () => add(store, "f", "10.0.1.0/24"),
      (e) =>
        e instanceof PoolExhaustedError &&
        e.message.endsWith("of its 5 addresses there, 0 free, 4 allocated, 1 reserved: 10.0.1.1 (gateway)"),
    );

    const v6 = [];
    for (const id of ["g", "h", "i", "j"]) v6.push((await add(store, id, "fd00:1::/64")).record.ip);
    assert.deepEqual(
      v6,
      ["fd00:1::fffd", "fd00:1::fffe", "fd00:1::ffff", "fd00:1::1:2"],
      "gateway ::1:1 skipped",
    );
    assert.equal((await store.get(lastKey("default", "fd00:1::/64")))?.value, "fd00:1::1:2");
    await release(store, "g");
    assert.equal((await add(store, "k", "fd00:1::/64")).record.ip, "fd00:1::1:3");
    assert.equal((await add(store, "l", "fd00:1::/64")).record.ip, "fd00:1::fffd", "wrapped around");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
