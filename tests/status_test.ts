/** STATUS (CNI 1.1): each plugin says whether it could serve an ADD now, which depends on its store. */
import assert from "node:assert/strict";
import { runPlugin } from "./lib/plugin.ts";

const UNREACHABLE = { etcd_endpoints: "http://127.0.0.1:1", etcd_timeout_ms: 500 };

function confs(store: Record<string, unknown>): Record<string, Record<string, unknown>> {
  return {
    anchor: { cniVersion: "1.1.0", name: "n", type: "anchor", ipam: { type: "anchor", ...store } },
    octopus: {
      cniVersion: "1.1.0",
      name: "n",
      type: "octopus",
      octopus: { "10.0.1.0/24": "eth0" },
      ipam: { type: "anchor", ...store },
    },
    ratchet: {
      cniVersion: "1.1.0",
      name: "n",
      type: "ratchet",
      ...store,
      delegate: { type: "bridge", ipam: { type: "host-local", subnet: "10.9.0.0/24" } },
    },
  };
}

Deno.test("STATUS answers 0 when the store answers, and code 50 naming the store when it does not", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "rt-status-" });
  try {
    for (const [role, conf] of Object.entries(confs({ store: dir }))) {
      const r = await runPlugin(role, { command: "STATUS", conf });
      assert.equal(r.code, 0, `${role}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout.trim(), "");
    }
    for (const [role, conf] of Object.entries(confs(UNREACHABLE))) {
      const r = await runPlugin(role, { command: "STATUS", conf });
      assert.equal(r.code, 1, role);
      assert.equal(r.json?.code, 50, `${role}: ${r.stdout}`);
      assert.match(r.json.msg, /127\.0\.0\.1:1/, "the message names the store");
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("STATUS proves the store takes writes: a read-only store answers code 50 with the reason", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "rt-status-" });
  const ro = Deno.makeTempDirSync({ prefix: "rt-status-ro-" });
  const mount = (...args: string[]) => new Deno.Command("mount", { args, stderr: "piped" }).output();
  try {
    // A store with data in it, then the same directory seen through a read-only bind mount (root
    // ignores file modes, so only the mount can refuse writes).
    const seeded = await runPlugin("anchor", { command: "STATUS", conf: confs({ store: dir }).anchor });
    assert.equal(seeded.code, 0, seeded.stdout);
    assert.ok((await mount("--bind", dir, ro)).success);
    assert.ok((await mount("-o", "remount,bind,ro", ro)).success);
    for (const role of ["anchor", "ratchet"]) {
      const r = await runPlugin(role, { command: "STATUS", conf: confs({ store: ro })[role] });
      assert.equal(r.code, 1, `${role}: ${r.stdout}${r.stderr}`);
      assert.equal(r.json?.code, 50, `${role}: ${r.stdout}`);
      assert.match(
        r.json.msg,
        new RegExp(`${ro}/store\\.db: .*(unable to open|readonly|read-only)`),
        `${role} says why: ${r.json.msg}`,
      );
    }
  } finally {
    await new Deno.Command("umount", { args: [ro] }).output();
    Deno.removeSync(ro, { recursive: true });
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a damaged store file is CNI code 5 naming the file, for ADD and STATUS alike, and is left as it was", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "rt-status-" });
  try {
    const garbage = "not a database\n".repeat(100);
    Deno.writeTextFileSync(`${dir}/store.db`, garbage);
    const conf = {
      ...confs({ store: dir }).anchor,
      args: { cni: { "cni.anchor.org/subnet": "10.0.1.0/24" } },
    };
    const add = await runPlugin("anchor", {
      command: "ADD",
      containerId: "c1",
      netns: "/proc/self/ns/net",
      ifname: "eth0",
      cniArgs: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p",
      conf,
    });
    assert.equal(add.json?.code, 5, add.stdout);
    assert.match(add.json.msg, new RegExp(`${dir}/store\\.db is corrupt: not an SQLite database`));
    const status = await runPlugin("anchor", { command: "STATUS", conf });
    assert.equal(status.json?.code, 50, status.stdout);
    assert.match(status.json.msg, /store\.db is corrupt/);
    assert.equal(Deno.readTextFileSync(`${dir}/store.db`), garbage, "never recreated");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("octopus forwards STATUS only to an IPAM plugin that speaks CNI 1.1 (Debian's host-local does not)", async () => {
  const conf = {
    cniVersion: "1.1.0",
    name: "n",
    type: "octopus",
    octopus: { "10.0.1.0/24": "eth0" },
    ipam: { type: "host-local", subnet: "10.0.1.0/24" },
  };
  const r = await runPlugin("octopus", { command: "STATUS", conf });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // Available is exit 0 with nothing on stdout (CNI 1.1, STATUS); an error object would mean
  // octopus had sent STATUS to host-local, which answers it with one.
  assert.equal(r.stdout, "");
  assert.equal(r.json, undefined);
});
