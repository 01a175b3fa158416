/**
 * The parent's side of `ratchet-child`: finding its binary, starting it detached in this (the
 * node's) namespace, recording its pid, and stopping it at DEL.
 */
import { log } from "../cni/log.ts";
import type { NetConf } from "../cni/mod.ts";
import type { Store } from "../store/mod.ts";
import { type ChildRecord, KEY, parseRecord } from "./keys.ts";
import type { PodRef } from "./resolve.ts";

/** The name the child runs under; the program picks its role from it. */
export const CHILD_NAME = "ratchet-child";
/** The child's subcommand. */
export const CHILD_COMMAND = "wait";
const STOP_GRACE_MS = 3000;
const SETSID = "/usr/bin/setsid";

/** What the parent hands the child on stdin (never on the command line, which anyone can read). */
export interface ChildRequest {
  conf: NetConf;
  namespace: string;
  pod: string;
  containerId: string;
  /** When the child gives up, in ms since the epoch. */
  deadline: number;
}

function executable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** argv[0] as exec'd, made absolute; symlinks kept, since the launcher directory is what we want. */
function invokedPath(): string | undefined {
  try {
    const argv0 = Deno.readTextFileSync("/proc/self/cmdline").split("\0")[0];
    if (!argv0.includes("/")) return undefined;
    return argv0.startsWith("/") ? argv0 : `${Deno.cwd()}/${argv0}`;
  } catch {
    return undefined;
  }
}

/**
 * The command that starts the child: `child_path` when it exists, else `ratchet-child` beside the
 * program as it was invoked (the CNI bin directory, or the dev launchers), else beside the binary,
 * else `deno run main.ts ratchet-child` for a program started through deno directly.
 */
export function childCommand(childPath?: string): { program: string; args: string[] } {
  const beside = [invokedPath(), Deno.execPath()].filter((p) => p !== undefined).map((p) =>
    `${dirOf(p)}/${CHILD_NAME}`
  );
  const candidates = childPath ? [childPath, ...beside] : beside;
  for (const c of candidates) if (executable(c)) return { program: c, args: [] };
  if (childPath) {
    log.warn(`child_path ${childPath} is not executable and no ${CHILD_NAME} was found beside the program`);
  }
  const main = new URL("../../main.ts", import.meta.url);
  return { program: Deno.execPath(), args: ["run", "-A", "--quiet", main.pathname, CHILD_NAME] };
}

/**
 * Starts the child detached: no stdout or stderr (the runtime waits for those to close), no CNI
 * variables, the request on stdin. Its pid is recorded before it gets the request, so that DEL can
 * stop it even if the child finishes or fails at once.
 */
export async function spawnChild(
  store: Store,
  childPath: string | undefined,
  req: ChildRequest,
): Promise<number> {
  const cmd = childCommand(childPath);
  // setsid(1) execs in place (the same pid) and closes the window before the child's own setsid()
  // runs, in which a kubelet killing the plugin's process group would take the child too.
  const [program, args] = executable(SETSID) ? [SETSID, [cmd.program, ...cmd.args]] : [cmd.program, cmd.args];
  const env = Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("CNI_")));
  for (let attempt = 1;; attempt++) {
    const child = new Deno.Command(program, {
      args: [...args, CHILD_COMMAND, "--container", req.containerId, "--pod", `${req.namespace}/${req.pod}`],
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.unref();
    const record: ChildRecord = {
      pid: child.pid,
      container_id: req.containerId,
      started: new Date().toISOString(),
    };
    const writer = child.stdin.getWriter();
    try {
      await store.put(KEY.child(req.namespace, req.pod), JSON.stringify(record));
      await writer.write(new TextEncoder().encode(JSON.stringify(req)));
      await writer.close();
      log.info(`started ${CHILD_NAME}`, { pid: child.pid, program: cmd.program });
      return child.pid;
    } catch (e) {
      killQuietly(child.pid, "SIGKILL");
      const status = await Promise.race([
        child.status,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000)),
      ]);
      const how = status
        ? `exited with status ${status.code}${status.signal ? ` (${status.signal})` : ""}`
        : "did not exit";
      // A child that died before reading its request (a failed start under load) gets one more try.
      if (attempt < 2 && e instanceof Deno.errors.BrokenPipe) {
        log.warn(`${CHILD_NAME} ${how} before reading its request; starting it again`);
        continue;
      }
      throw new Error(`starting ${CHILD_NAME} (${cmd.program}): ${(e as Error).message}; it ${how}`);
    }
  }
}

/** True while `pid` is a live (not zombie) ratchet-child working for `containerId`. */
export function isChildOf(pid: number, containerId: string): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return argv.some((a) => a.endsWith(CHILD_NAME)) && argv.includes(containerId);
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Stops the container's child, if one is alive, and removes its record. */
export async function stopChild(store: Store, self: PodRef, containerId: string): Promise<void> {
  const key = KEY.child(self.namespace, self.pod);
  const kv = await store.get(key);
  const rec = parseRecord<ChildRecord>(kv);
  if (!kv || rec?.container_id !== containerId) return;
  if (isChildOf(rec.pid, containerId)) {
    killQuietly(rec.pid, "SIGTERM");
    const until = Date.now() + STOP_GRACE_MS;
    while (isChildOf(rec.pid, containerId) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (isChildOf(rec.pid, containerId)) killQuietly(rec.pid, "SIGKILL");
    log.info(`stopped ${CHILD_NAME}`, { pid: rec.pid });
  }
  await store.txn([{ key, modRevision: kv.modRevision }], [{ delete: key }]);
}

/** True when the container already has a live child (a retried ADD must not start a second). */
export async function hasLiveChild(store: Store, self: PodRef, containerId: string): Promise<boolean> {
  const rec = parseRecord<ChildRecord>(await store.get(KEY.child(self.namespace, self.pod)));
  return rec?.container_id === containerId && isChildOf(rec.pid, containerId);
}
