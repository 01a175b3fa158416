/**
 * The single entry point. The program is installed once and symlinked under every role's name
 * (mod/role.ts's registry); the name it was run as picks the role, as busybox does.
 */
import { isRoleName, ROLE_NAMES, runRoleNamed } from "./mod/role.ts";

/**
 * argv[0] as the runtime gave it. Deno.execPath() resolves symlinks and cannot tell the names
 * apart, but /proc/self/cmdline keeps what exec was called with.
 */
function invokedAs(): string {
  try {
    const argv0 = Deno.readTextFileSync("/proc/self/cmdline").split("\0")[0];
    return argv0.slice(argv0.lastIndexOf("/") + 1);
  } catch {
    return "";
  }
}

let role = invokedAs();
let args = Deno.args;
if (!isRoleName(role)) {
  // Run as `deno run main.ts ROLE ...` (or a copy under another name): the first argument names the role.
  [role = "", ...args] = args;
}

if (isRoleName(role)) {
  await runRoleNamed(role, args);
} else {
  console.error(
    `usage: run this program as one of ${
      ROLE_NAMES.join(", ")
    } (a symlink), or pass the role first: main.ts anchor --help`,
  );
  Deno.exit(2);
}
