/**
 * monkey's HTTP API against both real stores (a file store in a temp dir and a real etcd): every
 * endpoint, authentication, validation, compare-and-swap and the compatibility endpoints, with the
 * outcome read back from the store itself. The command is run as a real process for its flags,
 * token file and signals, and once inside a test network namespace for a non-loopback address.
 */
import assert from "node:assert/strict";
import type { Store } from "../mod/store/mod.ts";
import { type MonkeyFixture, SEED, TEST_TOKEN, withMonkey } from "./lib/monkey.ts";
import { startEtcd } from "./lib/etcd.ts";

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function call(
  f: MonkeyFixture,
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TEST_TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(f.url + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: any = text;
  if (res.headers.get("content-type")?.startsWith("application/json")) body = JSON.parse(text);
  return { status: res.status, body, headers: res.headers };
}

/** A GET with a chosen Host header, over a plain TCP connection; returns the whole response text. */
async function rawGet(base: string, path: string, host: string): Promise<string> {
  const { hostname, port } = new URL(base);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(
      new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    return await new Response(conn.readable).text();
  } catch (e) {
    conn.close();
    throw e;
  }
}

async function value(store: Store, key: string): Promise<string | undefined> {
  return (await store.get(key))?.value;
}

function assertError(a: Answer, status: number, pattern: RegExp): void {
  assert.equal(a.status, status, `expected ${status}, got ${a.status}: ${JSON.stringify(a.body)}`);
  assert.equal(
    typeof a.body?.error,
    "string",
    `an error answer is JSON {"error": ...}, got ${JSON.stringify(a.body)}`,
  );
  assert.match(a.body.error, pattern);
}

for (const kind of ["file", "etcd"] as const) {
  Deno.test(`monkey API on the ${kind} store`, async (t) => {
    await withMonkey(kind, async (f) => {
      await t.step("GET /api/pools counts used, gateway and free addresses per pool", async () => {
        const a = await call(f, "GET", "api/pools", { token: null });
        assert.equal(a.status, 200);
        const byNs = Object.fromEntries(a.body.map((p: any) => [p.namespace, p]));
        // default: 10.0.1.2-9 and 10.0.2.8 = 9 addresses; aaa, bbb, ddd hold 10.0.1.2-4, ccc holds 10.0.2.8.
        assert.deepEqual(
          { ...byNs.default, revision: undefined },
          {
            namespace: "default",
            ranges: "10.0.1.[2-9],10.0.2.8",
            revision: undefined,
            total: 9,
            used: 4,
            reserved: 0,
            free: 5,
            problems: [],
          },
        );
        assert.equal(byNs.default.revision, (await f.store.get("/anchor/ns/default"))!.modRevision);
        assert.deepEqual([byNs.lab.total, byNs.lab.used, byNs.lab.free], [16, 1, 15]);
      });

      await t.step(
        "GET /api/pools/{ns} answers one pool with its revision as ETag; an unknown one is 404",
        async () => {
          const a = await call(f, "GET", "api/pools/default", { token: null });
          assert.equal(a.status, 200);
          assert.equal(a.body.namespace, "default");
          assert.equal(a.headers.get("etag"), `"${a.body.revision}"`);
          assertError(await call(f, "GET", "api/pools/nope"), 404, /pool "nope" does not exist/);
        },
      );

      await t.step("PUT /api/pools/{ns} creates and edits pools, checked by the store", async () => {
        const created = await call(f, "PUT", "api/pools/team-a", {
          body: { ranges: "10.0.5.[2-5], 10.0.5.9", revision: 0 },
        });
        assert.equal(created.status, 200, JSON.stringify(created.body));
        assert.equal(await value(f.store, "/anchor/ns/team-a"), "10.0.5.[2-5], 10.0.5.9");
        assert.equal(created.body.total, 5);
        assert.equal(created.body.revision, (await f.store.get("/anchor/ns/team-a"))!.modRevision);

        const edited = await call(f, "PUT", "api/pools/team-a", {
          body: { ranges: "10.0.5.[2-6]" },
          headers: { "if-match": `"${created.body.revision}"` },
        });
        assert.equal(edited.status, 200, JSON.stringify(edited.body));
        assert.equal(await value(f.store, "/anchor/ns/team-a"), "10.0.5.[2-6]");
        assert.ok(edited.body.revision > created.body.revision);

        const blind = await call(f, "PUT", "api/pools/team-a", { body: { ranges: "10.0.5.[2-7]" } });
        assert.equal(blind.status, 200, "without a revision the write is unconditional");
        assert.equal(await value(f.store, "/anchor/ns/team-a"), "10.0.5.[2-7]");
      });

      await t.step("a malformed range is a 400 that names the item, and nothing is written", async () => {
        const before = await f.store.get("/anchor/ns/default");
        const a = await call(f, "PUT", "api/pools/default", {
          body: { ranges: "10.0.1.[2-9],10.0.1.[9-3],10.0.2.x" },
        });
        assertError(a, 400, /10\.0\.1\.\[9-3\].*reversed/);
        assert.match(a.body.error, /10\.0\.2\.x/, "every malformed item is reported");
        assert.equal(a.body.field, "ranges");
        assert.equal(a.body.item, "10.0.1.[9-3]");
        assert.deepEqual(await f.store.get("/anchor/ns/default"), before);

        assertError(
          await call(f, "PUT", "api/pools/Bad_NS", { body: { ranges: "10.0.9.1" } }),
          400,
          /namespace "Bad_NS"/,
        );
        assertError(await call(f, "PUT", "api/pools/x", { body: { ranges: "" } }), 400, /"ranges"/);
        assertError(await call(f, "PUT", "api/pools/x", { body: "{" }), 400, /JSON object/);
        assert.equal(await f.store.get("/anchor/ns/Bad_NS"), undefined);
        assert.equal(await f.store.get("/anchor/ns/x"), undefined);
      });

      await t.step("writes without the right token are 401 and change nothing", async () => {
        const before = await f.store.get("/anchor/ns/default");
        const none = await call(f, "PUT", "api/pools/default", { token: null, body: { ranges: "10.0.1.2" } });
        assertError(none, 401, /Authorization: Bearer/);
        assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="monkey"');
        assertError(
          await call(f, "PUT", "api/pools/default", {
            token: "wrong-token-wrong-token",
            body: { ranges: "10.0.1.2" },
          }),
          401,
          /wrong/,
        );
        assertError(await call(f, "DELETE", "api/pools/default", { token: null }), 401, /Bearer/);
        assertError(await call(f, "DELETE", "api/allocations/aaa111", { token: null }), 401, /Bearer/);
        assertError(
          await call(f, "PUT", "api/gateways/10.0.1.0%2F24", { token: null, body: { gateway: "10.0.1.9" } }),
          401,
          /Bearer/,
        );
        assert.deepEqual(await f.store.get("/anchor/ns/default"), before);
        assert.equal(await value(f.store, "/anchor/gw/10.0.1.0/24"), "10.0.1.1");
        assert.ok(await f.store.get("/anchor/cn/aaa111"));
      });

      await t.step(
        "a stale revision is 409 with the current one, and the store keeps the other edit",
        async () => {
          const read = (await call(f, "GET", "api/pools/team-a")).body;
          // Someone else edits first.
          await f.store.put("/anchor/ns/team-a", "10.0.5.[2-8]");
          const theirs = (await f.store.get("/anchor/ns/team-a"))!;
          const stale = await call(f, "PUT", "api/pools/team-a", {
            body: { ranges: "10.0.5.2", revision: read.revision },
          });
          assertError(stale, 409, /changed by someone else/);
          assert.equal(stale.body.revision, theirs.modRevision);
          assert.deepEqual(await f.store.get("/anchor/ns/team-a"), theirs);

          const staleHeader = await call(f, "PUT", "api/pools/team-a", {
            body: { ranges: "10.0.5.2" },
            headers: { "if-match": `W/"${read.revision}"` },
          });
          assertError(staleHeader, 409, /revision/);
          assertError(
            await call(f, "PUT", "api/pools/team-a", { body: { ranges: "10.0.5.2", revision: 0 } }),
            409,
            /absence/,
          );
          assertError(
            await call(f, "PUT", "api/pools/team-a", {
              body: { ranges: "10.0.5.2", revision: 1 },
              headers: { "if-match": "2" },
            }),
            400,
            /disagree/,
          );
          assertError(
            await call(f, "PUT", "api/pools/team-a", { body: { ranges: "10.0.5.2", revision: "x" } }),
            400,
            /revision/,
          );
          assertError(
            await call(f, "DELETE", "api/pools/team-a", { headers: { "if-match": `"${read.revision}"` } }),
            409,
            /someone else/,
          );
          assert.deepEqual(await f.store.get("/anchor/ns/team-a"), theirs);
        },
      );

      await t.step("DELETE /api/pools/{ns} removes the key; again is 404", async () => {
        const current = (await f.store.get("/anchor/ns/team-a"))!;
        const a = await call(f, "DELETE", "api/pools/team-a", { body: { revision: current.modRevision } });
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.deepEqual(a.body, { deleted: "team-a" });
        assert.equal(await f.store.get("/anchor/ns/team-a"), undefined);
        assertError(await call(f, "DELETE", "api/pools/team-a"), 404, /does not exist/);
      });

      await t.step(
        "GET /api/gateways lists each subnet's gateway and how many addresses it holds",
        async () => {
          const a = await call(f, "GET", "api/gateways", { token: null });
          assert.equal(a.status, 200);
          const bySubnet = Object.fromEntries(a.body.map((g: any) => [g.subnet, g]));
          assert.deepEqual(Object.keys(bySubnet).sort(), ["10.0.1.0/24", "10.0.2.0/24", "fd00:1::/64"]);
          assert.equal(bySubnet["10.0.1.0/24"].gateway, "10.0.1.1");
          assert.equal(bySubnet["10.0.1.0/24"].used, 3);
          assert.equal(bySubnet["10.0.2.0/24"].used, 1);
          assert.equal(bySubnet["fd00:1::/64"].used, 1);
          assert.equal(
            bySubnet["10.0.1.0/24"].revision,
            (await f.store.get("/anchor/gw/10.0.1.0/24"))!.modRevision,
          );
          const one = await call(f, "GET", "api/gateways/fd00%3A1%3A%3A%2F64");
          assert.equal(one.status, 200);
          assert.equal(one.body.gateway, "fd00:1::1");
        },
      );

      await t.step("PUT /api/gateways/{subnet} checks the gateway is a host of the subnet", async () => {
        const outside = await call(f, "PUT", "api/gateways/10.0.3.0%2F24", { body: { gateway: "10.0.4.1" } });
        assertError(outside, 400, /10\.0\.4\.1.*outside the subnet/);
        assert.equal(outside.body.field, "gateway");
        assertError(
          await call(f, "PUT", "api/gateways/10.0.3.0%2F24", { body: { gateway: "10.0.3.255" } }),
          400,
          /broadcast/,
        );
        assertError(
          await call(f, "PUT", "api/gateways/10.0.3.0%2F24", { body: { gateway: "nonsense" } }),
          400,
          /not an address/,
        );
        const hostBits = await call(f, "PUT", "api/gateways/10.0.3.7%2F24", {
          body: { gateway: "10.0.3.1" },
        });
        assertError(hostBits, 400, /host bits.*10\.0\.3\.0\/24/);
        assert.equal(hostBits.body.field, "subnet");
        assertError(
          await call(f, "PUT", "api/gateways/10.0.3.0", { body: { gateway: "10.0.3.1" } }),
          400,
          /subnet/,
        );
        assert.deepEqual(await f.store.list("/anchor/gw/10.0.3."), []);

        const ok = await call(f, "PUT", "api/gateways/10.0.3.0%2F24", {
          body: { gateway: "10.0.3.1", revision: 0 },
        });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        assert.equal(await value(f.store, "/anchor/gw/10.0.3.0/24"), "10.0.3.1");
        // An unencoded slash names the same subnet.
        const edit = await call(f, "PUT", "api/gateways/10.0.3.0/24", {
          body: { gateway: "10.0.3.254", revision: ok.body.revision },
        });
        assert.equal(edit.status, 200, JSON.stringify(edit.body));
        assert.equal(await value(f.store, "/anchor/gw/10.0.3.0/24"), "10.0.3.254");
        assertError(
          await call(f, "PUT", "api/gateways/10.0.3.0%2F24", {
            body: { gateway: "10.0.3.2", revision: ok.body.revision },
          }),
          409,
          /someone else/,
        );
        assert.equal(await value(f.store, "/anchor/gw/10.0.3.0/24"), "10.0.3.254");

        assertError(
          await call(f, "DELETE", "api/gateways/10.0.3.0%2F24", { body: { revision: ok.body.revision } }),
          409,
          /someone else/,
        );
        const del = await call(f, "DELETE", "api/gateways/10.0.3.0%2F24", {
          body: { revision: edit.body.revision },
        });
        assert.equal(del.status, 200, JSON.stringify(del.body));
        assert.equal(await f.store.get("/anchor/gw/10.0.3.0/24"), undefined);
        assertError(await call(f, "DELETE", "api/gateways/10.0.3.0%2F24"), 404, /does not exist/);
      });

      await t.step("GET /api/allocations lists both record formats and filters them", async () => {
        const all = await call(f, "GET", "api/allocations", { token: null });
        assert.equal(all.status, 200);
        assert.deepEqual(all.body.map((a: any) => a.id).sort(), [
          "aaa111",
          "bbb222",
          "ccc333",
          "ddd444",
          "eee555",
        ]);
        const ddd = all.body.find((a: any) => a.id === "ddd444");
        assert.deepEqual({ ...ddd, revision: 0 }, {
          id: "ddd444",
          containerID: "ddd444",
          ip: "10.0.1.4",
          pod: "api-0",
          namespace: "default",
          controller: "api",
          ifname: "eth0",
          node: "node01",
          network: "anchor",
          time: "2026-01-02T03:04:05.000Z",
          subnet: "10.0.1.0/24",
          revision: 0,
          problems: [],
        });
        const ccc = all.body.find((a: any) => a.id === "ccc333");
        assert.deepEqual([ccc.ip, ccc.pod, ccc.namespace, ccc.controller, ccc.subnet], [
          "10.0.2.8",
          "db-0",
          "default",
          "db",
          "10.0.2.0/24",
        ]);

        const ids = async (query: string) =>
          (await call(f, "GET", `api/allocations?${query}`)).body.map((a: any) => a.id).sort();
        assert.deepEqual(await ids("namespace=lab"), ["eee555"]);
        assert.deepEqual(await ids("pod=web-1"), ["bbb222"]);
        assert.deepEqual(await ids("subnet=10.0.1.0%2F24"), ["aaa111", "bbb222", "ddd444"]);
        assert.deepEqual(await ids("subnet=10.0.1.0%2F24&namespace=default&q=WEB"), ["aaa111", "bbb222"]);
        assert.deepEqual(await ids("q=node02"), ["eee555"]);
        assert.deepEqual(await ids("q=nothing-matches"), []);
        assertError(await call(f, "GET", "api/allocations?subnet=10.0.1.0"), 400, /subnet "10\.0\.1\.0"/);
      });

      await t.step("DELETE /api/allocations/{id} releases the record and its guard, with CAS", async () => {
        const held = (await f.store.get("/anchor/cn/ddd444"))!;
        assertError(
          await call(f, "DELETE", "api/allocations/ddd444", { body: { revision: held.modRevision - 1 } }),
          409,
          /someone else/,
        );
        assert.deepEqual(await f.store.get("/anchor/cn/ddd444"), held);
        assert.equal(await value(f.store, "/anchor/ip/10.0.1.4"), "ddd444");

        const a = await call(f, "DELETE", "api/allocations/ddd444", {
          headers: { "if-match": `"${held.modRevision}"` },
        });
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.deepEqual(a.body, { released: "ddd444", ip: "10.0.1.4" });
        assert.equal(await f.store.get("/anchor/cn/ddd444"), undefined);
        assert.equal(await f.store.get("/anchor/ip/10.0.1.4"), undefined, "the guard goes with the record");
        assertError(await call(f, "DELETE", "api/allocations/ddd444"), 404, /no allocation ddd444/);

        // An original record has no guard; releasing it removes just the record.
        const b = await call(f, "DELETE", "api/allocations/aaa111");
        assert.equal(b.status, 200, JSON.stringify(b.body));
        assert.equal(await f.store.get("/anchor/cn/aaa111"), undefined);
        const pool = (await call(f, "GET", "api/pools/default")).body;
        assert.deepEqual([pool.used, pool.free], [2, 7]);
      });

      await t.step(
        "GET /api/links shows the link records, where their pods are and the plugin's state",
        async () => {
          const a = await call(f, "GET", "api/links", { token: null });
          assert.equal(a.status, 200);
          const id = "lab.r1.eth1--lab.r2.eth1";
          assert.deepEqual(a.body, [{
            id,
            // r1 registered on node03 at run time, which wins over apply's plan (node01); r2 has not arrived.
            a: {
              namespace: "lab",
              pod: "r1",
              ifname: "eth1",
              ip: "10.10.0.1/30",
              node: "node03",
              attached: true,
            },
            b: {
              namespace: "lab",
              pod: "r2",
              ifname: "eth1",
              ip: "10.10.0.2/30",
              node: "node02",
              attached: false,
            },
            mtu: 1450,
            revision: (await f.store.get(`/ratchet/links/${id}`))!.modRevision,
            state: JSON.parse(SEED["/ratchet/state/lab/r1/eth1/lab/r2/eth1"]),
            condition: "partial",
            problems: [],
          }]);
          await f.store.put("/ratchet/links/broken", "{not json");
          const broken = (await call(f, "GET", "api/links")).body.find((l: any) => l.id === "broken");
          assert.deepEqual(broken.problems, ["the link record is not a JSON object"]);
          await f.store.delete("/ratchet/links/broken");
          await f.store.put("/ratchet/state/lab/r1/eth1/lab/r2/eth1", "[]");
          const bad = (await call(f, "GET", "api/links")).body.find((l: any) => l.id === id);
          assert.deepEqual(bad.problems, ["/ratchet/state/lab/r1/eth1/lab/r2/eth1 is not a JSON object"]);
          await f.store.put(
            "/ratchet/state/lab/r1/eth1/lab/r2/eth1",
            SEED["/ratchet/state/lab/r1/eth1/lab/r2/eth1"],
          );
        },
      );

      await t.step(
        "GET /api/picture is the store's SVG; If-None-Match gives 304 until a link, pod or VNI changes",
        async () => {
          const get = (etag?: string) =>
            fetch(`${f.url}api/picture`, { headers: etag ? { "if-none-match": etag } : {} });
          const first = await get();
          assert.equal(first.status, 200);
          assert.equal(first.headers.get("content-type"), "image/svg+xml; charset=utf-8");
          const svg = await first.text();
          assert.match(svg, /<g class="link vxlan state-partial" data-link="lab\.r1\.eth1--lab\.r2\.eth1">/);
          assert.match(svg, /data-pod="lab\/r1"/);
          const etag = first.headers.get("etag")!;
          assert.match(etag, /^"[0-9a-f]+"$/);
          const same = await get(etag);
          assert.equal(same.status, 304, "nothing changed");
          await same.body?.cancel();
          // A state change alone keeps the picture (the page recolours from /api/links); a new VNI does not.
          const key = "/ratchet/state/lab/r1/eth1/lab/r2/eth1";
          const state = JSON.parse(SEED[key]);
          state.ends["lab/r2/eth1"] = { container_id: "fff666", up: true };
          await f.store.put(key, JSON.stringify(state));
          const recoloured = await get(etag);
          assert.equal(recoloured.status, 304);
          await recoloured.body?.cancel();
          await f.store.put(key, JSON.stringify({ ...state, vni: 5002 }));
          const changed = await get(etag);
          assert.equal(changed.status, 200);
          const text = await changed.text();
          assert.match(text, /<g class="link vxlan state-up" data-link="lab\.r1\.eth1--lab\.r2\.eth1">/);
          assert.match(text, /vxlan vni 5002 · mtu 1450 · up/);
          await f.store.put(key, SEED[key]);
          assertError(await call(f, "POST", "api/picture", { token: TEST_TOKEN }), 405, /is a list/);
        },
      );

      await t.step("the original's /api/v1 endpoints answer their shapes, read-only", async () => {
        const binding = await call(f, "GET", "api/v1/binding", { token: null });
        assert.equal(binding.status, 200);
        assert.deepEqual(
          binding.body.sort((x: any, y: any) => x.ip.localeCompare(y.ip)),
          [
            { ip: "10.0.1.3", pod: "web-1", ns: "default", ctrl: "web" },
            { ip: "10.0.2.8", pod: "db-0", ns: "default", ctrl: "db" },
            { ip: "fd00:1::10", pod: "r1", ns: "lab", ctrl: "unknown" },
          ],
        );
        const gateway = await call(f, "GET", "api/v1/gateway", { token: null });
        assert.deepEqual(gateway.body, [
          { subnet: "10.0.1.0/24", gw: "10.0.1.1" },
          { subnet: "10.0.2.0/24", gw: "10.0.2.1" },
          { subnet: "fd00:1::/64", gw: "fd00:1::1" },
        ]);
        const allocate = await call(f, "GET", "api/v1/allocate", { token: null });
        assert.deepEqual(allocate.body, [
          { ns: "default", ips: SEED["/anchor/ns/default"] },
          { ns: "lab", ips: SEED["/anchor/ns/lab"] },
        ]);
        for (
          const [method, path] of [["POST", "gateway"], ["DELETE", "gateway"], ["PATCH", "allocate"], [
            "POST",
            "binding",
          ]]
        ) {
          const a = await call(f, method, `api/v1/${path}`, {
            token: null,
            body: [{ subnet: "10.0.9.0/24", gw: "10.0.9.1" }],
          });
          assertError(a, 405, /read-only; use/);
          assert.equal(a.headers.get("allow"), "GET, HEAD");
        }
        assert.equal(await f.store.get("/anchor/gw/10.0.9.0/24"), undefined);
      });

      await t.step(
        "unknown paths are 404, wrong methods 405, foreign Host names 421, all as JSON",
        async () => {
          assertError(await call(f, "GET", "api/nothing"), 404, /no such endpoint/);
          assertError(await call(f, "GET", "elsewhere"), 404, /no such page/);
          const m = await call(f, "POST", "api/pools/default", { body: { ranges: "10.0.1.2" } });
          assertError(m, 405, /POST is not allowed/);
          assert.equal(m.headers.get("allow"), "GET, PUT, DELETE");
          assertError(await call(f, "PUT", "api/links/x", { body: {} }), 405, /not allowed/);
          assertError(await call(f, "DELETE", "api/pools"), 405, /is a list/);
          // fetch will not send a Host of our choosing, so this one goes over a plain socket.
          const rebound = await rawGet(f.url, "/api/pools", "evil.example:8964");
          assert.match(rebound, /^HTTP\/1\.1 421 /);
          assert.match(rebound, /"error":"Host \\"evil\.example:8964\\" is not a loopback name/);
          assert.match(await rawGet(f.url, "/api/pools", "localhost"), /^HTTP\/1\.1 200 /);
          assertError(await call(f, "GET", "api/pools/%E0%A4%A"), 400, /percent-encoding/);
        },
      );

      await t.step("the page is served at / with a strict content security policy", async () => {
        const a = await call(f, "GET", "", { token: null });
        assert.equal(a.status, 200);
        assert.match(a.headers.get("content-type")!, /^text\/html/);
        assert.match(a.headers.get("content-security-policy")!, /default-src 'none'/);
        assert.match(a.body, /<title>monkey/);
        assert.doesNotMatch(a.body, /(src|href)="https?:/, "no external assets");
        const info = await call(f, "GET", "api/info", { token: null });
        assert.equal(info.body.store, f.store.describe());
      });
    });
  });
}

Deno.test("monkey answers 503 while etcd is down, and recovers", async () => {
  const etcd = await startEtcd();
  const { openStore } = await import("../mod/store/mod.ts");
  const { startMonkey } = await import("../mod/monkey/mod.ts");
  const store = await openStore({ kind: "etcd", endpoints: [etcd.endpoint], timeoutMs: 1000 });
  const server = startMonkey({ store, listen: { hostname: "127.0.0.1", port: 0 }, token: TEST_TOKEN });
  try {
    await store.put("/anchor/ns/default", "10.0.1.[2-9]");
    etcd.kill();
    const down = await fetch(`${server.url}api/pools`);
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("retry-after"), "1");
    assert.match((await down.json()).error, /unreachable/);
    await etcd.restart();
    let up: Response | undefined;
    for (let i = 0; i < 50; i++) {
      up = await fetch(`${server.url}api/pools`);
      if (up.status === 200) break;
      await up.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(up!.status, 200);
    assert.equal((await up!.json())[0].namespace, "default");
  } finally {
    await server.shutdown();
    await store.close();
    await etcd.stop();
  }
});

/** `anchor monkey` through main.ts, the role named by the first argument. */
const COMMAND = [new URL("../main.ts", import.meta.url).pathname, "anchor", "monkey"];

/** A `monkey` process, read line by line, for the flags, the token file and the signals. */
interface MonkeyProcess {
  child: Deno.ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the "serving ... on URL" URL, or rejects when the process exits first. */
  url: Promise<string>;
  stderr: Promise<string>;
}

function spawnMonkey(args: string[], netns?: string): MonkeyProcess {
  const argv = ["run", "-A", "--quiet", ...COMMAND, ...args];
  const cmd = netns
    ? new Deno.Command("ip", {
      args: ["netns", "exec", netns, Deno.execPath(), ...argv],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    })
    : new Deno.Command(Deno.execPath(), { args: argv, stdout: "piped", stderr: "piped", stdin: "null" });
  const child = cmd.spawn();
  const lines: string[] = [];
  const { promise: url, resolve, reject } = Promise.withResolvers<string>();
  // Read stdout to its end, so that later lines land in `lines` and the pipe never fills.
  (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let nl; (nl = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(nl + 1)) {
        const line = buffer.slice(0, nl);
        lines.push(line);
        const m = /serving .* on (http:\/\/\S+)$/.exec(line);
        if (m) resolve(m[1]);
      }
    }
    reject(new Error(`monkey exited before serving; stdout: ${lines.join("\n")}`));
  })();
  const stderr = new Response(child.stderr).text();
  return { child, lines, url, stderr };
}

/** Kills the process if it still runs and waits for it, so no test leaves one behind. */
async function stop(proc?: MonkeyProcess): Promise<void> {
  try {
    proc?.child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  await proc?.child.status;
  await proc?.stderr;
}

Deno.test("monkey refuses a non-loopback address without a token file, before binding it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rt-monkey-" });
  try {
    for (const listen of ["0.0.0.0:0", ":0", "[::]:0", "192.0.2.10:0"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", ...COMMAND, "--listen", listen, "--store", `${dir}/store`],
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, `--listen ${listen}: ${stderr}`);
      assert.match(stderr, /refusing to listen on .* without a token; pass --token-file/);
      assert.doesNotMatch(new TextDecoder().decode(out.stdout), /serving/);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no token file and no store were created");
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", ...COMMAND, "--listen", "127.0.0.1:99999", "--store", `${dir}/store`],
      stdin: "null",
    }).output();
    assert.equal(bad.code, 1);
    assert.match(
      new TextDecoder().decode(bad.stderr),
      /--listen "127\.0\.0\.1:99999": "99999" is not a port number/,
    );
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const busy = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          ...COMMAND,
          "--listen",
          `127.0.0.1:${(taken.addr as Deno.NetAddr).port}`,
          "--store",
          `${dir}/store`,
          "--token-file",
          `${dir}/token`,
        ],
        stdin: "null",
      }).output();
      assert.equal(busy.code, 1);
      assert.match(new TextDecoder().decode(busy.stderr), /127\.0\.0\.1:\d+ is in use/);
    } finally {
      taken.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monkey as a process: creates a 0600 token file, serves, and stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rt-monkey-" });
  const tokenFile = `${dir}/secrets/monkey.token`;
  const args = ["--listen", "127.0.0.1:0", "--store", `${dir}/store`, "--token-file", tokenFile];
  let proc: MonkeyProcess | undefined;
  try {
    proc = spawnMonkey(args);
    const url = await proc.url;
    assert.ok(
      proc.lines.some((l) => l.includes(`wrote a new API token to ${tokenFile}`)),
      proc.lines.join("\n"),
    );
    assert.equal((await Deno.stat(tokenFile)).mode! & 0o777, 0o600);
    const token = (await Deno.readTextFile(tokenFile)).trim();
    assert.ok(token.length >= 32, "a random token of 32 bytes, base64url");

    assert.equal(
      (await fetch(`${url}api/pools`).then((r) => r.json())).length,
      0,
      "reads are open on loopback",
    );
    const denied = await fetch(`${url}api/pools/default`, {
      method: "PUT",
      body: JSON.stringify({ ranges: "10.0.1.[2-9]" }),
    });
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const put = await fetch(`${url}api/pools/default`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ ranges: "10.0.1.[2-9]" }),
    });
    assert.equal(put.status, 200, await put.text());

    proc.child.kill("SIGTERM");
    const status = await proc.child.status;
    assert.equal(status.code, 0, await proc.stderr);
    assert.ok(proc.lines.some((l) => l.includes("stopping")));
    const { openStore } = await import("../mod/store/mod.ts");
    const store = await openStore({ kind: "file", dir: `${dir}/store` });
    assert.equal((await store.get("/anchor/ns/default"))?.value, "10.0.1.[2-9]");
    await store.close();

    // A second start reuses the token instead of replacing it.
    proc = spawnMonkey(args);
    await proc.url;
    assert.ok(!proc.lines.some((l) => l.includes("wrote a new API token")));
    assert.equal((await Deno.readTextFile(tokenFile)).trim(), token);
    proc.child.kill("SIGINT");
    assert.equal((await proc.child.status).code, 0);
  } finally {
    await stop(proc);
    await Deno.remove(dir, { recursive: true });
  }
});

async function ip(...args: string[]): Promise<string> {
  const out = await new Deno.Command("ip", { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

async function curlIn(netns: string, ...args: string[]): Promise<{ code: number; body: string }> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", netns, "curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", ...args],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const nl = text.lastIndexOf("\n");
  return { code: Number(text.slice(nl + 1)), body: text.slice(0, nl) };
}

Deno.test("monkey on a non-loopback address (inside a test netns) needs the token for reads too", async () => {
  const netns = `rt-monkey-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "rt-monkey-" });
  let proc: MonkeyProcess | undefined;
  await ip("netns", "add", netns);
  try {
    await ip("-n", netns, "link", "set", "lo", "up");
    // A documentation address on the namespace's own lo: not loopback by address, reachable only in there.
    await ip("-n", netns, "addr", "add", "192.0.2.10/32", "dev", "lo");
    const tokenFile = `${dir}/monkey.token`;
    await Deno.writeTextFile(tokenFile, "netns-test-token-0123456789\n", { mode: 0o600 });
    proc = spawnMonkey(
      ["--listen", "192.0.2.10:0", "--store", `${dir}/store`, "--token-file", tokenFile],
      netns,
    );
    const url = await proc.url;
    assert.match(url, /^http:\/\/192\.0\.2\.10:\d+\/$/);

    const anonymous = await curlIn(netns, `${url}api/pools`);
    assert.equal(anonymous.code, 401, anonymous.body);
    assert.match(JSON.parse(anonymous.body).error, /Bearer/);
    const authed = await curlIn(
      netns,
      "-H",
      "Authorization: Bearer netns-test-token-0123456789",
      `${url}api/pools`,
    );
    assert.equal(authed.code, 200, authed.body);
    assert.deepEqual(JSON.parse(authed.body), []);
    const page = await curlIn(netns, url);
    assert.equal(page.code, 200, "the page itself loads; it asks for the token");
    assert.match(page.body, /<title>monkey/);
  } finally {
    await stop(proc);
    await ip("netns", "del", netns);
    await Deno.remove(dir, { recursive: true });
  }
});
