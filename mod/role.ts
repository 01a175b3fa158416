import type { Plugin } from "./cni/skel.ts";
import { envVar, invokedBy } from "./cni/env.ts";
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from "./cni/version.ts";

/**
 * The role registry: every name the program answers to, with its module (which exports `role`),
 * loaded only when that name runs. main.ts dispatches on it; install, the launchers, compile and
 * the tests iterate it. The first name is the binary's own; the others are symlinks to it.
 */
export const ROLES = {
  ratchet: () => import("./ratchet/main.ts"),
  "ratchet-child": () => import("./ratchet/child_main.ts"),
  anchor: () => import("./anchor/main.ts"),
  octopus: () => import("./octopus/main.ts"),
} as const satisfies Record<string, () => Promise<{ role: Role }>>;

/** The role names in registry order: `ROLE_NAMES[0]` is the installed binary, the rest its symlinks. */
export const ROLE_NAMES = Object.keys(ROLES) as RoleName[];

/** A name in the registry. */
export type RoleName = keyof typeof ROLES;

/** Whether `name` is a registered role. */
export function isRoleName(name: string): name is RoleName {
  return Object.hasOwn(ROLES, name);
}

/** Loads and runs the role `name` (see {@link runRole}). */
export async function runRoleNamed(name: RoleName, args: string[]): Promise<never> {
  return runRole((await ROLES[name]()).role, args);
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
  const caller = first === undefined ? invokedBy() : "person";
  if (caller === "plugin") {
    const { pluginMain } = await import("./cni/skel.ts");
    // VERSION is answered from the spec versions alone (pluginMain never asks the plugin), so it does not
    // load the plugin's module graph (store, netlink, Kubernetes client): runtimes probe every plugin.
    const plugin = commandIsVersion() ? refusingPlugin("only VERSION is answered here") : await role.plugin();
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

/** Whether CNI_COMMAND is VERSION; a value that is not text is not (pluginMain reports it as code 4). */
function commandIsVersion(): boolean {
  try {
    return envVar("CNI_COMMAND") === "VERSION";
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
    const { CniError, ErrorCode } = await import("./cni/errors.ts");
    throw new CniError(ErrorCode.InvalidNetworkConfig, why);
  };
  return { loadConf: () => undefined, add: refuse, del: refuse, check: refuse };
}
