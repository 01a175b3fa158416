/**
 * The plugins a configuration makes this program exec, followed through every level, so that no
 * configuration can make the program run itself without end (octopus with `"ipam": {"type":
 * "octopus"}` would exec itself with the same config, which execs itself again, ...).
 *
 * What each of the program's roles execs, and with which config:
 * - octopus: its `ipam` plugin (not anchor, which runs in process), with the whole config, as
 *   libcni's ipam.ExecAdd passes it;
 * - ratchet: `delegate` and `boot_network`, each with its own block (name and cniVersion inherited);
 * - anchor, ratchet-child: nothing.
 * Another main plugin (Debian's bridge, macvlan) is taken to exec its `ipam` with the whole config,
 * as the reference plugins do; only a step into one of this program's roles is followed, since only
 * those can close a loop that this program is part of.
 */
import { isRoleName } from "../role.ts";
import { configError, type NetConf } from "./skel.ts";

/** More nested plugins than any sane configuration has; deeper is refused too. */
const MAX_DEPTH = 8;

type Conf = Record<string, unknown>;

interface Step {
  /** The config field that names the plugin, from the top config: `delegate.ipam.type`. */
  field: string;
  type: string;
  conf: Conf;
  /** Where `conf` sits in the top config, for naming fields further down. */
  at: string;
}

function isObject(v: unknown): v is Conf {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string | undefined {
  return isObject(v) && typeof v.type === "string" && v.type ? v.type : undefined;
}

/** The plugins `type` execs when it gets `conf`. */
function stepsOf(type: string, conf: Conf, at: string): Step[] {
  const ipam = typeOf(conf.ipam);
  switch (type) {
    case "anchor":
    case "ratchet-child":
      return [];
    case "octopus":
      return ipam && ipam !== "anchor" ? [{ field: `${at}ipam.type`, type: ipam, conf, at }] : [];
    case "ratchet":
      return ["delegate", "boot_network"].flatMap((f) => {
        const block = conf[f], nested = typeOf(block);
        if (!nested) return [];
        const inherited = {
          ...(block as Conf),
          name: (block as Conf).name || conf.name,
          cniVersion: (block as Conf).cniVersion || conf.cniVersion,
        };
        return [{ field: `${at}${f}.type`, type: nested, conf: inherited, at: `${at}${f}.` }];
      });
    default:
      return ipam && isRoleName(ipam) ? [{ field: `${at}ipam.type`, type: ipam, conf, at }] : [];
  }
}

/** One plugin run with one config; prevResult is left out, since IPAM plugins are exec'd without it. */
function keyOf(type: string, conf: Conf): string {
  const { prevResult: _, ...rest } = conf;
  return `${type}\n${JSON.stringify(rest)}`;
}

/**
 * Refuses a configuration under which `role` would, through any nesting (ipam, delegate,
 * boot_network, a delegate's ipam, ...), run the same plugin with the same config again, which
 * never ends; and one nested deeper than {@link MAX_DEPTH} plugins.
 * @throws CniError 7 naming the field, e.g. `delegate.ipam.type`.
 */
export function checkNoExecLoop(role: string, netConf: NetConf): void {
  const walk = (type: string, conf: Conf, at: string, seen: string[], depth: number): void => {
    for (const step of stepsOf(type, conf, at)) {
      const key = keyOf(step.type, step.conf);
      if (seen.includes(key)) {
        throw configError(
          step.field,
          `${JSON.stringify(step.type)} makes ${step.type} run itself with the same configuration again, ` +
            "without end; name a different plugin",
        );
      }
      if (depth >= MAX_DEPTH) throw configError(step.field, `nests plugins more than ${MAX_DEPTH} deep`);
      walk(step.type, step.conf, step.at, [...seen, key], depth + 1);
    }
  };
  walk(role, netConf, "", [keyOf(role, netConf)], 1);
}
