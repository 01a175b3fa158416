/**
 * The node's waiter, from the plugin's side: finding the `ratchet-child` binary, starting one waiter
 * per node detached in this (the node's) namespace under a lease in the store, and recording the
 * containers whose links it is to finish.
 */
import { log } from "../cni/log.ts";
import type { NetConf } from "../cni/skel.ts";
import type { Store } from "../store/types.ts";
import type { RatchetConf } from "./conf.ts";
import { KEY, parseRecord, type WaiterRecord, type WaitRecord } from "./keys.ts";
import type { PodRef } from "./resolve.ts";

/** The name the waiter runs under; the program picks its role from it. */
export const CHILD_NAME = "ratchet-child";
/** The waiter's subcommand. */
export const WAITER_COMMAND = "waiter";
/** A lease whose starter has not recorded the waiter's pid within this long is taken over. */
export const START_LEASE_MS = 10_000;
const SETSID = "/usr/bin/setsid";
/** V8 flags the waiter runs with (DENO_V8_FLAGS). */
const WAITER_V8_FLAGS = "--max-semi-space-size=1";
const LEASE_ATTEMPTS = 5;

/** What the plugin hands the waiter on stdin (never on the command line, which anyone can read). */
export interface WaiterRequest {
  conf: NetConf;
  /** The node the waiter works for, as the plugin resolved it. */
  node: string;
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
 * Starts the waiter detached: no stdout or stderr (the runtime waits for those to close), no CNI
 * variables, the request on stdin. Returns its pid.
 */
async function spawnWaiter(childPath: string | undefined, req: WaiterRequest): Promise<number> {
  const cmd = childCommand(childPath);
  // setsid(1) execs in place (the same pid) and closes the window before the waiter's own setsid()
  // runs, in which a kubelet killing the plugin's process group would take the waiter too.
  const [program, args] = executable(SETSID) ? [SETSID, [cmd.program, ...cmd.args]] : [cmd.program, cmd.args];
  const env = Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("CNI_")));
  // The waiter lives long and allocates little at a time: a 1 MiB young generation instead of V8's
  // default keeps it near 50 MiB RSS instead of 140 (measured with a 1500-key store being watched).
  env.DENO_V8_FLAGS = [env.DENO_V8_FLAGS, WAITER_V8_FLAGS].filter(Boolean).join(",");
  const child = new Deno.Command(program, {
    args: [...args, WAITER_COMMAND, "--node", req.node],
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(JSON.stringify(req)));
    await writer.close();
  } catch (e) {
    killQuietly(child.pid, "SIGKILL");
    throw new Error(`starting ${CHILD_NAME} (${cmd.program}): ${(e as Error).message}`);
  }
  log.info(`started ${CHILD_NAME} ${WAITER_COMMAND}`, {
    pid: child.pid,
    node: req.node,
    program: cmd.program,
  });
  return child.pid;
}

/** True while `pid` is a live (not zombie) waiter for `node`: our own process, by its command line. */
export function isWaiter(pid: number, node: string): boolean {
  if (!isLive(pid)) return false;
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    const at = argv.indexOf("--node");
    return argv.some((a) => a.endsWith(CHILD_NAME)) && argv.includes(WAITER_COMMAND) && argv[at + 1] === node;
  } catch {
    return false;
  }
}

/** True while `pid` exists and is not a zombie (/proc/PID/stat, proc(5)). */
function isLive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/**
 * True for a lease younger than {@link START_LEASE_MS} whose start is under way: no pid recorded yet
 * (pid 0), or a pid whose process lives. While a waiter goes through setsid, the launcher and deno, its
 * /proc cmdline can read empty mid-exec, and isWaiter alone would start a second.
 */
function starting(rec: WaiterRecord): boolean {
  return Date.now() - rec.at < START_LEASE_MS && (rec.pid === 0 || isLive(rec.pid));
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Makes sure the node's waiter runs: nothing to do while the lease names a live waiter (or a start
 * younger than {@link START_LEASE_MS}); otherwise this call takes the lease in a transaction (so of
 * two calls at the same instant exactly one starts a waiter), starts it, and records its pid.
 * Returns the pid it started, or undefined.
 */
export async function ensureWaiter(store: Store, conf: RatchetConf): Promise<number | undefined> {
  const key = KEY.waiter(conf.node);
  for (let attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
    const kv = await store.get(key);
    const rec = parseRecord<WaiterRecord>(kv);
    if (rec && (isWaiter(rec.pid, conf.node) || starting(rec))) return undefined;
    const lease = JSON.stringify({ pid: 0, at: Date.now() } satisfies WaiterRecord);
    if (!(await store.txn([{ key, modRevision: kv?.modRevision ?? 0 }], [{ put: key, value: lease }]))) {
      continue;
    }
    if (rec) {
      log.info(`the waiter recorded for node ${conf.node} is gone; starting another`, { was: rec.pid });
    }
    let pid: number;
    try {
      pid = await spawnWaiter(conf.childPath, { conf: conf.raw, node: conf.node });
    } catch (e) {
      await store.txn([{ key, value: lease }], [{ delete: key }]).catch(() => false);
      throw e;
    }
    const started = JSON.stringify({ pid, at: Date.now() } satisfies WaiterRecord);
    await store.txn([{ key, value: lease }], [{ put: key, value: started }]);
    return pid;
  }
  return undefined;
}

/**
 * Records that the container's links are not all up, for the node's waiter. Returns true when this
 * call made the record (a retried ADD finds the first one's).
 */
export async function recordWaiting(
  store: Store,
  conf: RatchetConf,
  self: PodRef,
  containerId: string,
): Promise<boolean> {
  const rec: WaitRecord = {
    namespace: self.namespace,
    pod: self.pod,
    container_id: containerId,
    vni_start: conf.vniStart,
    deadline: Date.now() + conf.childTimeoutMs,
  };
  const key = KEY.wait(conf.node, containerId);
  return await store.txn([{ key, exists: false }], [{ put: key, value: JSON.stringify(rec) }]);
}

/** True when some container of the node still has links to finish before its deadline. */
export async function nodeHasWork(store: Store, node: string): Promise<boolean> {
  const now = Date.now();
  return (await store.list(KEY.waits(node))).some((kv) => (parseRecord<WaitRecord>(kv)?.deadline ?? 0) > now);
}

/**
 * Drops the container's waiting work (DEL, GC, a failed ADD) and makes sure the node's waiter still
 * runs when others wait: a killed waiter is replaced by the next ADD, DEL or GC on the node.
 */
export async function stopWaiting(store: Store, conf: RatchetConf, node: string, containerId: string) {
  await store.delete(KEY.wait(node, containerId));
  if (node === conf.node && await nodeHasWork(store, node)) await ensureWaiter(store, conf);
}
