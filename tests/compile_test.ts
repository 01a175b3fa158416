import assert from "node:assert/strict";
import { compile } from "../mod/dev/compile.ts";

Deno.test("the compiled binary answers under every name, or compile says in one line why it cannot be built", async () => {
  const out = Deno.makeTempDirSync({ prefix: "ratchet-dist-" });
  try {
    let binary: string;
    try {
      binary = await compile(out);
    } catch (e) {
      const msg = (e as Error).message;
      // Machines that cannot fetch denort: the task must say so plainly, not dump a backtrace.
      assert.match(msg, /cannot download its runtime \(denort\)/);
      assert.ok(!msg.includes("\n"), "one line");
      return;
    }
    for (const name of ["ratchet", "ratchet-child", "anchor", "octopus"]) {
      const r = await new Deno.Command(`${out}/${name}`, {
        env: { CNI_COMMAND: "VERSION" },
        stdin: "null",
        stdout: "piped",
      }).output();
      assert.equal(r.code, 0);
      assert.equal(JSON.parse(new TextDecoder().decode(r.stdout)).cniVersion, "1.1.0");
      const v = await new Deno.Command(`${out}/${name}`, { args: ["--version"], stdout: "piped" }).output();
      assert.equal(new TextDecoder().decode(v.stdout).split(" ")[0], name);
    }
    const lint = await new Deno.Command(binary, { args: ["lint", "@default"], stdout: "piped" }).output();
    assert.equal(lint.code, 0, "the embedded topology travels inside the binary");
  } finally {
    Deno.removeSync(out, { recursive: true });
  }
});
