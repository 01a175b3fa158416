import type { Plugin } from "./cni/skel.ts";
import { readStdin } from "./cni/stdin.ts";
import { CURRENT_VERSION, SUPPORTED_VERSIONS, versionInfo } from "./cni/version.ts";
import { lazy } from "./lazy.ts";

/**
 * The role registry: every name the program answers to, with its module (which exports `role`),
 * loaded only when that name runs (mod/lazy.ts: Deno does not even read the other roles' modules at
 * start-up). main.ts dispatches on it; install, the launchers, compile and the tests iterate it. The
 * first name is the binary's own; the others are symlinks to it.
 */
export const ROLES = {
  ratchet: lazy<typeof import("./ratchet/main.ts")>(new URL("./ratchet/main.ts", import.meta.url)),
  "ratchet-child": lazy<typeof import("./ratchet/child_main.ts")>(
    new URL("./ratchet/child_main.ts", import.meta.url),
  ),
  anchor: lazy<typeof import("./anchor/main.ts")>(new URL("./anchor/main.ts", import.meta.url)),
  octopus: lazy<typeof import("./octopus/main.ts")>(new URL("./octopus/main.ts", import.meta.url)),
} as const satisfies Record<string, () => Promise<{ role: Role }>>;

// The CNI skeleton and its parts, loaded only on the paths that use them (VERSION needs none of them).
const loadEnv = lazy<typeof import("./cni/env.ts")>(new URL("./cni/env.ts", import.meta.url));
const loadSkel = lazy<typeof import("./cni/skel.ts")>(new URL("./cni/skel.ts", import.meta.url));
const loadErrors = lazy<typeof import("./cni/errors.ts")>(new URL("./cni/errors.ts", import.meta.url));

/** The role names in registry order: `ROLE_NAMES[0]` is the installed binary, the rest its symlinks. */
export const ROLE_NAMES = Object.keys(ROLES) as RoleName[];

/** A name in the registry. */
export type RoleName = keyof typeof ROLES;

/** Whether `name` is a registered role. */
export function isRoleName(name: string): name is RoleName {
  return Object.hasOwn(ROLES, name);
}

/**
 * Loads and runs the role `name` (see {@link runRole}). VERSION is answered before the role is loaded:
 * its answer is the spec versions alone, and runtimes probe every plugin with it, so it costs what an
 * empty Deno program does plus three small modules.
 */
export async function runRoleNamed(name: RoleName, args: string[]): Promise<never> {
  if (args.length === 0 && cniCommand() === "VERSION") {
    // VERSION reads stdin too: libcni writes a small config to it and expects it consumed.
    readStdin();
    console.log(versionInfo());
    Deno.exit(0);
  }
  return runRole((await ROLES[name]()).role, args);
}

/** CNI_COMMAND, or undefined when it is unset or not UTF-8 text (pluginMain reports that as code 4). */
function cniCommand(): string | undefined {
  try {
    return Deno.env.get("CNI_COMMAND");
  } catch {
    return undefined;
  }
}

/** The program's release, shown by --version. Kept equal to deno.json's "version" by a test. */
export const PROGRAM_VERSION = "0.1.0";

/** A subcommand for people (`anchor ls`, `ratchet lint`); it imports what it needs when it runs. */
export interface Command {
  usage: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

/** One of the program's names: the CNI plugin behind it, loaded lazily, and its subcommands. */
export interface Role {
  name: string;
  summary: string;
  plugin: () => Promise<Plugin<any>>;
  commands: Record<string, Command>;
}

/**
 * Runs a role: with no arguments and CNI_COMMAND set it is a CNI plugin (what a runtime does);
 * with arguments it is a command line tool; with neither it explains itself instead of
 * waiting on stdin.
 */
export async function runRole(role: Role, args: string[]): Promise<never> {
  const [first, ...rest] = args;
  const caller = first === undefined ? (await loadEnv()).invokedBy() : "person";
  if (caller === "plugin") {
    const { pluginMain } = await loadSkel();
    // VERSION is answered from the spec versions alone (pluginMain never asks the plugin), so it does not
    // load the plugin's module graph (store, netlink, Kubernetes client): runtimes probe every plugin.
    const plugin = cniCommand() === "VERSION"
      ? refusingPlugin("only VERSION is answered here")
      : await role.plugin();
    return pluginMain(plugin, role.name);
  }
  if (first === "--version" || first === "-V") {
    console.log(`${role.name} ${PROGRAM_VERSION} (CNI ${SUPPORTED_VERSIONS.join(", ")})`);
    Deno.exit(0);
  }
  if (caller === "runtime") {
    // CNI_ variables but no command: stdout carries only the spec's error; the help goes to stderr,
    // as the reference skel does.
    console.log(JSON.stringify({ cniVersion: CURRENT_VERSION, code: 4, msg: "CNI_COMMAND is not set" }));
    console.error(helpText(role));
    Deno.exit(2);
  }
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(helpText(role));
    Deno.exit(first === undefined ? 2 : 0);
  }
  const command = role.commands[first];
  if (!command) {
    console.error(`${role.name}: unknown command ${JSON.stringify(first)}; see ${role.name} --help`);
    Deno.exit(2);
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(`usage: ${role.name} ${command.usage}\n\n${command.summary}`);
    Deno.exit(0);
  }
  try {
    Deno.exit(await command.run(rest));
  } catch (e) {
    // People get the message, not a stack trace; DEBUG=1 shows the trace for developers.
    console.error(
      `${role.name} ${first}: ${debug() ? (e as Error).stack : (e as Error).message ?? e}`,
    );
    Deno.exit(1);
  }
}

/** DEBUG=1 set; a value that is not text counts as unset rather than crashing the error path. */
function debug(): boolean {
  try {
    return !!Deno.env.get("DEBUG");
  } catch {
    return false;
  }
}

function helpText(role: Role): string {
  const lines = [
    `${role.name} ${PROGRAM_VERSION}: ${role.summary}`,
    "",
    "As a CNI plugin, a container runtime runs it with CNI_COMMAND set and the network config on stdin.",
    "",
    "Commands:",
    ...Object.values(role.commands).flatMap((c) => [`  ${role.name} ${c.usage}`, `      ${c.summary}`]),
    `  ${role.name} --version`,
    "      print the version",
  ];
  return lines.join("\n");
}

/** A plugin that answers VERSION (the dispatcher does that) and refuses every other verb with `why`. */
export function refusingPlugin(why: string): Plugin<unknown> {
  const refuse = async (): Promise<never> => {
    const { CniError, ErrorCode } = await loadErrors();
    throw new CniError(ErrorCode.InvalidNetworkConfig, why);
  };
  return { loadConf: () => undefined, add: refuse, del: refuse, check: refuse };
}
