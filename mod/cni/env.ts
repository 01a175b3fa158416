import { CniError, ErrorCode } from "./errors.ts";
import { ifnameProblem } from "../links/names.ts";

/** The CNI_* environment of one invocation, validated for its verb. */
export interface CniEnv {
  command: string;
  containerId: string;
  /** Empty when not given (DEL, GC, STATUS may omit it). */
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs, in order. */
  args: Map<string, string>;
  /** CNI_PATH split on ':'. */
  path: string[];
}

const VERBS = ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"];

/** The variables the spec gives a plugin. */
export const CNI_VARIABLES = [
  "CNI_COMMAND",
  "CNI_CONTAINERID",
  "CNI_NETNS",
  "CNI_IFNAME",
  "CNI_ARGS",
  "CNI_PATH",
];

/**
 * Reads one environment variable. Deno.env throws on a value that is not UTF-8 (and
 * Deno.env.toObject silently leaves such a variable out), so every read goes through here.
 * @returns undefined when it is not set
 * @throws CniError 4 naming the variable when its value is not valid UTF-8 text
 */
export function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    throw new CniError(ErrorCode.InvalidEnvironment, `${name} is not valid UTF-8 text`);
  }
}

/** The spec's CNI_* variables of this process, each read with {@link envVar}. @throws CniError 4 */
export function cniVariables(): Record<string, string | undefined> {
  return Object.fromEntries(CNI_VARIABLES.map((name) => [name, envVar(name)]));
}

/**
 * Who ran the program without arguments: a runtime calling the plugin (CNI_COMMAND is set, or is
 * not text, which the plugin then reports as code 4), a runtime that set other CNI_ variables but
 * no command (its stdout must carry only the spec's JSON), or a person.
 */
export function invokedBy(): "plugin" | "runtime" | "person" {
  let command: string | undefined;
  try {
    command = Deno.env.get("CNI_COMMAND");
  } catch {
    return "plugin";
  }
  if (command) return "plugin";
  // An empty CNI_COMMAND alone is a person's `CNI_COMMAND= anchor`; any other CNI_ variable is a runtime's.
  const other = (name: string) => name.startsWith("CNI_") && name !== "CNI_COMMAND";
  const others = Object.keys(Deno.env.toObject()).some(other) ||
    CNI_VARIABLES.filter(other).some((name) => {
      try {
        return Deno.env.get(name) !== undefined;
      } catch {
        return true;
      }
    });
  return others ? "runtime" : "person";
}
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** Keys of CNI_ARGS that every role understands; others are refused unless IgnoreUnknown=1. */
export const KNOWN_ARGS = [
  "IgnoreUnknown",
  "K8S_POD_NAMESPACE",
  "K8S_POD_NAME",
  "K8S_POD_INFRA_CONTAINER_ID",
  "K8S_POD_UID",
];

/**
 * Reads and checks the environment the way the spec lays it out per verb:
 * ADD and CHECK need a container, a netns and an ifname; DEL needs no netns (it may be gone);
 * GC and STATUS need neither.
 */
export function readEnv(env: Record<string, string | undefined>, knownArgs = KNOWN_ARGS): CniEnv {
  const command = env.CNI_COMMAND ?? "";
  if (!command) throw new CniError(ErrorCode.InvalidEnvironment, "CNI_COMMAND is not set");
  if (!VERBS.includes(command)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `unknown CNI_COMMAND ${JSON.stringify(command)}`,
      `expected one of ${VERBS.join(", ")}`,
    );
  }
  const perContainer = ["ADD", "DEL", "CHECK"].includes(command);
  const out: CniEnv = {
    command,
    containerId: env.CNI_CONTAINERID ?? "",
    netns: env.CNI_NETNS ?? "",
    ifname: env.CNI_IFNAME ?? "",
    args: parseCniArgs(env.CNI_ARGS ?? "", knownArgs),
    path: (env.CNI_PATH ?? "").split(":").filter(Boolean),
  };
  if (!perContainer) return out;
  if (!out.containerId) throw new CniError(ErrorCode.UnknownContainer, "CNI_CONTAINERID is not set");
  if (!CONTAINER_ID.test(out.containerId)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `invalid CNI_CONTAINERID ${JSON.stringify(out.containerId)}`,
      "it must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
    );
  }
  checkIfname(out.ifname);
  if (command !== "DEL") {
    if (!out.netns) throw new CniError(ErrorCode.InvalidEnvironment, "CNI_NETNS is not set");
    checkNetnsPath(out.netns);
  }
  return out;
}

/**
 * Refuses a CNI_IFNAME the kernel would refuse (the rule: mod/links's {@link ifnameProblem}).
 * @throws CniError code 4 (invalid environment), the reason in `details`
 */
export function checkIfname(name: string): void {
  const problem = ifnameProblem(name);
  if (problem) {
    throw new CniError(ErrorCode.InvalidEnvironment, `invalid CNI_IFNAME ${JSON.stringify(name)}`, problem);
  }
}

let nsfsDevice: number | null | undefined;

/**
 * A netns path must name a namespace file: one on nsfs, the filesystem behind /proc/PID/ns/*
 * and the bind mounts under /run/netns. That it is a *network* namespace is checked again when
 * the netlink layer enters it.
 */
export function checkNetnsPath(path: string): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS ${path} does not exist`);
  }
  nsfsDevice ??= Deno.statSync("/proc/self/ns/net").dev;
  const wrongProcEntry = /^\/proc\/[^/]+\/(task\/[^/]+\/)?ns\//.test(path) && !path.endsWith("/net");
  if (st.dev !== nsfsDevice || wrongProcEntry) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS ${path} is not a network namespace`);
  }
}

/** Parses `K=V;K=V`; unknown keys are an error unless `IgnoreUnknown` is true, as in libcni. */
export function parseCniArgs(raw: string, knownArgs = KNOWN_ARGS): Map<string, string> {
  const args = new Map<string, string>();
  for (const pair of raw.split(";")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        `invalid CNI_ARGS pair ${JSON.stringify(pair)}`,
        "expected KEY=VALUE",
      );
    }
    args.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const ignoreUnknown = ["1", "true"].includes((args.get("IgnoreUnknown") ?? "").toLowerCase());
  if (!ignoreUnknown) {
    for (const key of args.keys()) {
      if (!knownArgs.includes(key)) {
        throw new CniError(
          ErrorCode.InvalidEnvironment,
          `unknown CNI_ARGS key ${JSON.stringify(key)}`,
          "add IgnoreUnknown=1 to pass keys this plugin does not use",
        );
      }
    }
  }
  return args;
}
