/**
 * No configuration can make the program exec itself without end, and a delegate that times out is
 * killed with everything it started.
 */
import assert from "node:assert/strict";
import { checkNoExecLoop } from "../mod/cni/nesting.ts";
import { execPlugin } from "../mod/cni/exec.ts";
import { runPlugin } from "./lib/plugin.ts";

const octopusLoop = {
  cniVersion: "1.1.0",
  name: "lan",
  type: "octopus",
  octopus: { "10.0.1.0/24": "eth0.2" },
  ipam: { type: "octopus" },
};

/** Our processes (deno running main.ts) whose environment carries this test's marker. */
function ourProcesses(marker: string): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const env = new TextDecoder().decode(Deno.readFileSync(`/proc/${e.name}/environ`));
      if (env.includes(`LOOP_MARKER=${marker}`)) n++;
    } catch {
      // gone, or not ours to read
    }
  }
  return n;
}

for (const command of ["ADD", "DEL", "CHECK", "GC", "STATUS"]) {
  Deno.test(`octopus with "ipam": {"type": "octopus"} is refused on ${command} with code 7 naming ipam.type, and runs nothing`, async () => {
    const marker = crypto.randomUUID();
    const started = performance.now();
    const r = await runPlugin("octopus", {
      command,
      containerId: "c1",
      netns: "/proc/self/ns/net",
      ifname: "eth0",
      conf: command === "GC" ? { ...octopusLoop, "cni.dev/valid-attachments": [] } : octopusLoop,
      env: { LOOP_MARKER: marker },
      timeoutMs: 20_000,
    });
    assert.equal(r.json?.code, 7, r.stdout + r.stderr);
    assert.match(r.json.msg, /ipam\.type "octopus".*without end/);
    assert.ok(performance.now() - started < 15_000, "answered at once, not after a chain of execs");
    assert.equal(ourProcesses(marker), 0, "no process of the chain is left");
  });
}

Deno.test("a loop through any nesting is refused, naming the field; nesting that ends is allowed", () => {
  const refused = (role: string, conf: Record<string, unknown>, field: string) =>
    assert.throws(
      () => checkNoExecLoop(role, { cniVersion: "1.0.0", name: "n", type: role, ...conf }),
      (e: any) => e.code === 7 && e.message.includes(`${field} `),
      field,
    );
  refused("octopus", { ipam: { type: "octopus" } }, "ipam.type");
  // ratchet delegating to such an octopus, or to a plugin whose IPAM is such an octopus.
  refused("ratchet", { delegate: { type: "octopus", ipam: { type: "octopus" } } }, "delegate.ipam.type");
  refused(
    "ratchet",
    { boot_network: { type: "octopus", ipam: { type: "octopus" } } },
    "boot_network.ipam.type",
  );
  refused("ratchet", { delegate: { type: "bridge", ipam: { type: "octopus" } } }, "delegate.ipam.type");
  // ratchet as octopus's IPAM gets octopus's whole config; its delegate is then octopus again.
  refused(
    "ratchet",
    {
      delegate: {
        type: "ratchet",
        delegate: { type: "ratchet", delegate: { type: "octopus", ipam: { type: "octopus" } } },
      },
    },
    "delegate.delegate.delegate.ipam.type",
  );
  const allowed = (role: string, conf: Record<string, unknown>) =>
    checkNoExecLoop(role, { cniVersion: "1.0.0", name: "n", type: role, ...conf });
  allowed("octopus", { ipam: { type: "anchor" } });
  allowed("octopus", { ipam: { type: "host-local" } });
  allowed("ratchet", {
    delegate: { type: "octopus", ipam: { type: "anchor" } },
    boot_network: { type: "bridge", ipam: { type: "host-local" } },
  });
  allowed("ratchet", { delegate: { type: "ratchet", delegate: { type: "bridge" } } });
  allowed("anchor", { ipam: { type: "anchor" } });
});

Deno.test("a delegate that times out is killed with the processes it started (its process group)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "cni-loop-" });
  try {
    // A plugin that starts a grandchild (as an IPAM exec would) and then hangs.
    Deno.writeTextFileSync(
      `${dir}/hang`,
      `#!/bin/sh\nsleep 300 &\necho $! > ${dir}/grandchild\nsleep 300\n`,
      { mode: 0o755 },
    );
    const env = {
      command: "ADD",
      containerId: "c1",
      netns: "",
      ifname: "eth0",
      args: new Map(),
      path: [dir],
    };
    const started = performance.now();
    await assert.rejects(
      execPlugin({
        conf: { cniVersion: "1.0.0", name: "n", type: "hang" },
        command: "ADD",
        env,
        timeoutMs: 1000,
      }),
      (e: any) => e.code === 104 && /timed out after 1000 ms/.test(e.message),
    );
    assert.ok(performance.now() - started < 10_000);
    const pid = Deno.readTextFileSync(`${dir}/grandchild`).trim();
    let state = "gone";
    for (let i = 0; i < 50; i++) {
      try {
        state = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1][0];
      } catch {
        state = "gone";
      }
      if (state === "gone" || state === "Z") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(state === "gone" || state === "Z", `the grandchild ${pid} is dead (state ${state})`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
