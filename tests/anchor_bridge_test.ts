/**
 * anchor as the IPAM of Debian's reference bridge plugin: the bridge plugin execs our launcher from
 * CNI_PATH, applies the result in a pod namespace, and the kernel's view (ip -j) must match.
 * Everything runs inside a simulated node namespace; the file store lives in a temp dir.
 */
import assert from "node:assert/strict";
import { dump, seed } from "./lib/anchor_fixture.ts";
import { ipJson, withTempNetns } from "./lib/netns.ts";
import { runPlugin } from "./lib/plugin.ts";
import { openStore } from "../mod/store/mod.ts";

Deno.test("the reference bridge plugin puts anchor's address and routes into the pod, checks them and frees them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anchor-bridge-" });
  const store = await openStore({ kind: "file", dir });
  try {
    await withTempNetns(["node", "pod"], async ([node, pod], ns) => {
      await seed(store, { "/anchor/ns/lab": "10.0.1.[2-9]", "/anchor/gw/10.0.1.0/24": "10.0.1.1" });
      const conf = {
        cniVersion: "1.0.0",
        name: "labnet",
        type: "bridge",
        bridge: "br-anchor",
        args: {
          cni: { "cni.anchor.org/subnet": "10.0.1.0/24", "cni.anchor.org/routes": "10.88.0.0/16,10.0.1.5" },
        },
        ipam: { type: "anchor", store: dir, service_ipnet: "10.96.0.0/12", node_ips: ["10.0.1.250"] },
      };
      const call = (command: string, extra: Record<string, unknown> = {}) =>
        runPlugin("/usr/lib/cni/bridge", {
          command,
          containerId: "bridged",
          netns: ns.path(1),
          ifname: "eth0",
          cniArgs: "IgnoreUnknown=1;K8S_POD_NAMESPACE=lab;K8S_POD_NAME=web-0",
          node,
          conf: { ...conf, ...extra },
        });

      const add = await call("ADD");
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.equal(add.json.ips[0].address, "10.0.1.2/24");

      const [eth0] = await ipJson(pod, "addr", "show", "eth0");
      assert.deepEqual(
        eth0.addr_info.filter((a: { family: string }) => a.family === "inet").map((
          a: { local: string; prefixlen: number },
        ) => `${a.local}/${a.prefixlen}`),
        ["10.0.1.2/24"],
      );
      const routes = (await ipJson(pod, "route", "show")).map((
        r: { dst: string; gateway?: string },
      ) => [r.dst, r.gateway ?? ""]);
      for (
        const want of [["default", "10.0.1.1"], ["10.88.0.0/16", "10.0.1.5"], ["10.96.0.0/12", "10.0.1.250"]]
      ) {
        assert.ok(
          routes.some(([d, g]: string[]) => d === want[0] && g === want[1]),
          `route ${want} in ${JSON.stringify(routes)}`,
        );
      }

      const check = await call("CHECK", { prevResult: add.json });
      assert.equal(check.code, 0, check.stdout + check.stderr);

      const del = await call("DEL", { prevResult: add.json });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      assert.deepEqual(await ipJson(pod, "link", "show", "eth0").catch(() => []), []);
      const left = Object.keys(await dump(store)).filter((k) =>
        k.startsWith("/anchor/cn/") || k.startsWith("/anchor/ip/")
      );
      assert.deepEqual(left, []);
    });
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
