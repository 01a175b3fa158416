import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function ratchet(...args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "ratchet", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const td = new TextDecoder();
  return { code: r.code, out: td.decode(r.stdout) + td.decode(r.stderr) };
}

async function demoNamespaces(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]).filter((n) =>
    n.startsWith("demo-")
  );
}

Deno.test("the demo builds the lab, every ping answers, and it leaves nothing behind", async () => {
  try {
    const { code, out } = await ratchet("demo");
    assert.equal(code, 0, out);
    const rows = out.split("\n").filter((l) => / (ratchet|octopus) /.test(l) && / (ok|FAILED)$/.test(l));
    assert.equal(rows.length, 7, out);
    assert.ok(rows.every((r) => r.endsWith(" ok")), out);
    assert.match(out, /in1\(vxlan\) 192\.168\.3\.1\/24/);
    assert.match(out, /in1\(veth\) 192\.168\.2\.100\/24/);
    assert.match(out, /eth0\(macvlan\) 10\.0\.2\.2\d\/24/);
    assert.deepEqual(await demoNamespaces(), []);
    assert.equal(await Deno.stat("/run/ratchet-demo").catch(() => undefined), undefined);
  } finally {
    await ratchet("demo", "down");
  }
});

Deno.test("demo --keep leaves the lab up for exploring, and demo down removes it", async () => {
  try {
    const kept = await ratchet("demo", "--keep");
    assert.equal(kept.code, 0, kept.out);
    const spaces = await demoNamespaces();
    assert.ok(spaces.includes("demo-pod-primary-pod") && spaces.includes("demo-node01"), spaces.join(" "));
    const link = await new Deno.Command("ip", {
      args: ["-n", "demo-pod-primary-pod", "-j", "addr", "show", "in1"],
      stdout: "piped",
    }).output();
    const info = JSON.parse(new TextDecoder().decode(link.stdout))[0].addr_info;
    assert.ok(info.some((a: { local: string }) => a.local === "192.168.2.100"));
    const status = await ratchet("status", "@default", "--store", "/run/ratchet-demo/store");
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /in sync with the file/);
    assert.match(status.out, /links: 2 of 2 up/);
    assert.match(status.out, /up +default\.left-pod\.in1--default\.right-pod\.in1 vxlan vni \d+/);
    const again = await ratchet("demo");
    assert.equal(again.code, 1, "a second lab is refused while one is kept");
    const down = await ratchet("demo", "down");
    assert.equal(down.code, 0, down.out);
    assert.deepEqual(await demoNamespaces(), []);
  } finally {
    await ratchet("demo", "down");
  }
});
