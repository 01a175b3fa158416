/**
 * mod/iface in process, against the kernel in throwaway namespaces: configureIface applies a result
 * (IPv4 and IPv6, routes with and without gateways) and checkIface notices each kind of drift.
 */
import assert from "node:assert/strict";
import type { Result } from "../mod/cni/mod.ts";
import { checkIface, configureIface, IfaceCheckError, IfaceMissingError } from "../mod/iface/mod.ts";
import { Handle } from "../mod/netlink/mod.ts";
import { ipJson, sh, withTempNetns } from "./lib/netns.ts";

const RESULT: Result = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "other" }, { name: "eth1" }],
  ips: [
    { address: "10.50.1.5/24", gateway: "10.50.1.1", interface: 1 },
    { address: "fd00:50::5/64", gateway: "fd00:50::1", interface: 1 },
    { address: "10.60.0.9/24", interface: 0 },
  ],
  routes: [{ dst: "0.0.0.0/0" }, { dst: "10.99.0.0/16", gw: "10.50.1.254" }, { dst: "::/0" }],
};

function expectCheck(fn: () => unknown, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof IfaceCheckError, String(e));
    assert.equal(e.what, what);
    assert.equal(e.code, 105);
    return true;
  });
}

Deno.test("configureIface applies addresses and routes of one interface, and checkIface follows the kernel", async () => {
  await withTempNetns(["iface-pod", "iface-peer"], async ([pod, peer], ns) => {
    await sh("ip", "-n", pod, "link", "add", "eth1", "type", "veth", "peer", "name", "p", "netns", peer);
    await sh("ip", "-n", peer, "link", "set", "p", "up");
    const h = Handle.open(ns.path(0));
    try {
      const link = configureIface(h, "eth1", RESULT);
      assert.ok(link.up);
      const [a] = await ipJson(pod, "addr", "show", "eth1");
      const have = a.addr_info.filter((i: any) => i.scope === "global").map((i: any) =>
        `${i.local}/${i.prefixlen}`
      ).sort();
      assert.deepEqual(have, ["10.50.1.5/24", "fd00:50::5/64"], "the other interface's address is left out");
      const v4 = (await ipJson(pod, "route", "show")).map((r: any) =>
        `${r.dst} ${r.gateway ?? "-"} ${r.dev}`
      );
      assert.ok(v4.includes("default 10.50.1.1 eth1"), v4.join("; "));
      assert.ok(v4.includes("10.99.0.0/16 10.50.1.254 eth1"), v4.join("; "));
      const v6 = (await ipJson(pod, "-6", "route", "show", "default")).map((r: any) =>
        `${r.gateway} ${r.dev}`
      );
      assert.deepEqual(v6, ["fd00:50::1 eth1"]);

      // Applying the same result again (a retried ADD) is harmless.
      configureIface(h, "eth1", RESULT);
      checkIface(h, "eth1", { ...RESULT, interfaces: [{ name: "other" }, { name: "eth1", mac: link.mac }] });

      expectCheck(
        () =>
          checkIface(h, "eth1", {
            ...RESULT,
            interfaces: [{ name: "x" }, { name: "eth1", mac: "02:00:00:00:00:01" }],
          }),
        "mac",
      );
      await sh("ip", "-n", pod, "route", "del", "10.99.0.0/16");
      expectCheck(() => checkIface(h, "eth1", RESULT), "route");
      await sh("ip", "-n", pod, "route", "add", "10.99.0.0/16", "via", "10.50.1.254");
      checkIface(h, "eth1", RESULT);
      await sh("ip", "-n", pod, "addr", "del", "fd00:50::5/64", "dev", "eth1");
      expectCheck(() => checkIface(h, "eth1", RESULT), "address");
      await sh("ip", "-n", pod, "link", "set", "eth1", "down");
      expectCheck(() => checkIface(h, "eth1", RESULT), "state");
      expectCheck(() => checkIface(h, "eth9", RESULT), "link");
      assert.throws(() => configureIface(h, "eth9", RESULT), IfaceMissingError);
    } finally {
      h.close();
    }
  });
});

Deno.test("configureIface announces the address as the link comes up: the neighbour learns the MAC unasked", async () => {
  await withTempNetns(["garp-pod", "garp-peer"], async ([pod, peer], ns) => {
    await sh("ip", "-n", pod, "link", "add", "eth1", "type", "veth", "peer", "name", "p", "netns", peer);
    await sh("ip", "-n", peer, "addr", "add", "10.50.1.1/24", "dev", "p");
    await sh("ip", "-n", peer, "link", "set", "p", "up");
    // A gratuitous ARP makes a neighbour entry only where arp_accept allows it.
    await sh("ip", "netns", "exec", peer, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/p/arp_accept");
    const h = Handle.open(ns.path(0));
    try {
      const link = configureIface(h, "eth1", { cniVersion: "1.1.0", ips: [{ address: "10.50.1.5/24" }] });
      let lladdr: string | undefined;
      for (let i = 0; i < 100 && !lladdr; i++) {
        lladdr = (await ipJson(peer, "neigh", "show", "dev", "p")).find((n: any) => n.dst === "10.50.1.5")
          ?.lladdr;
        if (!lladdr) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(lladdr, link.mac);
    } finally {
      h.close();
    }
  });
});
