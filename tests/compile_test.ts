/**
 * `deno task compile`: the single binary under every role name. Where deno compile cannot fetch
 * its runtime (denort), the binary test is ignored (its name says why) so the count claims no
 * pass, and what is tested instead is that compile says so in one line.
 */
import assert from "node:assert/strict";
import { compile } from "../mod/dev/compile.ts";
import { ROLE_NAMES } from "../mod/role.ts";

const out = Deno.makeTempDirSync({ prefix: "ratchet-dist-" });
let binary: string | undefined;
let whyNot = "";
try {
  binary = await compile(out);
} catch (e) {
  whyNot = (e as Error).message;
  Deno.removeSync(out, { recursive: true });
}
const noRuntime = /cannot download its runtime \(denort\)/.test(whyNot);

Deno.test({
  name: "compile says in one line that it cannot download denort",
  ignore: !noRuntime,
  fn() {
    assert.ok(!whyNot.includes("\n"), "one line");
    assert.match(whyNot, /DENORT_BIN/, "and names the way out");
  },
});

Deno.test({
  name: `the compiled binary answers under every name${
    noRuntime ? " (ignored: denort cannot be downloaded here; set DENORT_BIN)" : ""
  }`,
  ignore: noRuntime,
  async fn() {
    try {
      assert.ok(binary, `compile failed: ${whyNot}`);
      for (const name of ROLE_NAMES) {
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
      if (binary) Deno.removeSync(out, { recursive: true });
    }
  },
});
