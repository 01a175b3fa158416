/** `deno task bin DIR`: writes the development launchers (mod/install/launchers.ts) into DIR. */
import { writeLaunchers } from "../install/launchers.ts";
import { ROLE_NAMES } from "../role.ts";

const dir = Deno.args[0];
if (!dir) {
  console.error("usage: deno task bin DIR");
  Deno.exit(2);
}
writeLaunchers(dir);
console.log(`launchers written to ${dir}: ${ROLE_NAMES.join(", ")}`);
