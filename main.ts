/**
 * The single entry point. The program is installed once and symlinked under four names;
 * the name it was run as picks the role, as busybox does.
 */
const ROLES = ["ratchet", "ratchet-child", "anchor", "octopus"];

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
if (!ROLES.includes(role)) {
  // Run as `deno run main.ts ROLE ...` (or a copy under another name): the first argument names the role.
  [role, ...args] = args;
}

switch (role) {
  case "anchor":
    await (await import("./mod/anchor/main.ts")).main(args);
    break;
  case "octopus":
    await (await import("./mod/octopus/main.ts")).main(args);
    break;
  case "ratchet":
    await (await import("./mod/ratchet/main.ts")).main(args);
    break;
  case "ratchet-child":
    await (await import("./mod/ratchet/child_main.ts")).main(args);
    break;
  default:
    console.error(
      `usage: run this program as one of ${
        ROLES.join(", ")
      } (a symlink), or pass the role first: main.ts anchor --help`,
    );
    Deno.exit(2);
}
