import assert from "node:assert/strict";
import { decodeRecord, guardKey, recordKey, releaseRecord } from "../mod/ipam/mod.ts";
import { openStore, StoreConflictError } from "../mod/store/mod.ts";

Deno.test("releaseRecord without retry refuses a record rewritten since it was read; with retry it follows the change", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "rt-release-" });
  const store = await openStore({ kind: "file", dir });
  try {
    await store.put(recordKey("c1"), "10.0.1.5,web-0,default,web");
    await store.put(guardKey("10.0.1.5"), "c1");
    const seen = (await store.get(recordKey("c1")))!;
    const held = { record: decodeRecord("c1", seen.value), modRevision: seen.modRevision };
    await store.put(recordKey("c1"), "10.0.1.5,web-1,default,web"); // someone else changed it meanwhile

    await assert.rejects(() => releaseRecord(store, held, { retry: false }), StoreConflictError);
    assert.equal(
      (await store.get(recordKey("c1")))?.value,
      "10.0.1.5,web-1,default,web",
      "nothing was released",
    );
    assert.equal((await store.get(guardKey("10.0.1.5")))?.value, "c1");

    assert.equal(await releaseRecord(store, held), true);
    assert.equal(await store.get(recordKey("c1")), undefined);
    assert.equal(await store.get(guardKey("10.0.1.5")), undefined, "the guard goes with the record");
  } finally {
    await store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
