/**
 * Throwaway network namespaces for tests, and small helpers to check the kernel with iproute2.
 *
 * Every namespace made here is deleted afterwards, also when the test fails, and once more at
 * process exit as a safety net. Tests must never change the host's own namespace.
 *
 * @example
 * await withTempNetns(["a", "b"], async ([a, b], ns) => {
 *   await sh("ip", "-n", a, "link", "add", "x", "type", "veth", "peer", "name", "y", "netns", b);
 *   const links = await ipJson(b, "link", "show", "y");
 *   // Handle.open(ns.path(1)) ...
 * });
 */

/** A command that exited non-zero; carries what it printed. */
export class ShError extends Error {
  constructor(
    readonly cmd: string[],
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${cmd.join(" ")} exited ${code}: ${stderr.trim() || stdout.trim()}`);
    this.name = "ShError";
  }
}

const decoder = new TextDecoder();

/** How a command exited and what it printed (UTF-8 text). */
export interface RunResult {
  /** The exit code; `success` is `code === 0`. */
  code: number;
  success: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command (no shell, empty stdin) to its end and returns how it exited and what it printed.
 * It never throws on a non-zero exit, for tests that assert on a failure; {@link sh} is the throwing
 * form. Rejects only when the command cannot start (Deno.errors.NotFound for a missing binary).
 *
 * @example
 * const r = await run("ip", "netns", "exec", ns, "anchor", "ls");
 * assert.equal(r.code, 0, r.stderr);
 */
export async function run(cmd: string, ...args: string[]): Promise<RunResult> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  return {
    code: out.code,
    success: out.success,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Runs a command (no shell) and returns its stdout; throws ShError when it exits non-zero. */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const out = await run(cmd, ...args);
  if (!out.success) throw new ShError([cmd, ...args], out.code, out.stdout, out.stderr);
  return out.stdout;
}

/** Like {@link sh}, for exit-time cleanup where nothing async can run any more. */
export function shSync(cmd: string, ...args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
  const stdout = decoder.decode(out.stdout);
  if (!out.success) throw new ShError([cmd, ...args], out.code, stdout, decoder.decode(out.stderr));
  return stdout;
}

/**
 * `ip -n <ns> -j <args...>` parsed as JSON (an empty answer gives []).
 *
 * @example
 * const [link] = await ipJson(ns, "-d", "link", "show", "eth0");
 */
// deno-lint-ignore no-explicit-any
export async function ipJson<T = any>(ns: string, ...args: string[]): Promise<T> {
  const out = (await sh("ip", "-n", ns, "-j", ...args)).trim();
  return (out ? JSON.parse(out) : []) as T;
}

/** Runs a command inside a namespace: `ip netns exec <ns> cmd args...`. */
export function nsExec(ns: string, cmd: string, ...args: string[]): Promise<string> {
  return sh("ip", "netns", "exec", ns, cmd, ...args);
}

/** The bind-mount path iproute2 gives a named namespace. */
export function nsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Names created and not yet deleted, for the exit-time sweep. */
const live = new Set<string>();
let sweepInstalled = false;

function installSweep(): void {
  if (sweepInstalled) return;
  sweepInstalled = true;
  globalThis.addEventListener("unload", () => {
    for (const name of live) {
      try {
        shSync("ip", "netns", "del", name);
      } catch { /* already gone */ }
    }
  });
}

function randomSuffix(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** Deletes a namespace made by `ip netns add`; absent ones are fine. */
export async function deleteNetns(name: string): Promise<void> {
  try {
    await sh("ip", "netns", "del", name);
  } catch (e) {
    if (!(e instanceof ShError) || !/No such file|not found/i.test(e.stderr)) throw e;
  }
  live.delete(name);
}

/**
 * A set of namespaces named `rt-<label>-<random>`, created together and deleted together.
 */
export class TempNetns implements AsyncDisposable {
  private constructor(readonly names: string[]) {}

  /**
   * Creates one namespace per label. If any fails, the ones already made are deleted.
   *
   * @param opts.lo bring loopback up in each (default true: most tests want 127.0.0.1 to work)
   */
  static async create(labels: string[], opts: { lo?: boolean } = {}): Promise<TempNetns> {
    installSweep();
    const made = new TempNetns([]);
    try {
      for (const label of labels) {
        const name = `rt-${label.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 20)}-${randomSuffix()}`;
        await addWithRetry(name);
        made.names.push(name);
        live.add(name);
        if (opts.lo ?? true) await sh("ip", "-n", name, "link", "set", "lo", "up");
      }
      return made;
    } catch (e) {
      await made.cleanup();
      throw e;
    }
  }

  /** The name for label number `i` (in the order given to create). */
  name(i: number): string {
    return this.names[i];
  }

  /** The /run/netns path for label number `i`. */
  path(i: number): string {
    return nsPath(this.names[i]);
  }

  /** Deletes every namespace; interfaces inside go with them. Safe to call twice. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const name of this.names.splice(0)) {
      try {
        await deleteNetns(name);
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw new AggregateError(errors, "deleting test namespaces failed");
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
  }
}

/** `ip netns add` can race with another process setting up /run/netns the first time; retry. */
async function addWithRetry(name: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await sh("ip", "netns", "add", name);
      return;
    } catch (e) {
      if (attempt >= 4) throw e;
      await deleteNetns(name).catch(() => {});
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
}

/**
 * Runs `fn` with fresh namespaces (one per label) and always deletes them afterwards.
 *
 * @param fn gets the names in label order, and the TempNetns for paths
 */
export async function withTempNetns<T>(
  labels: string[],
  fn: (names: string[], ns: TempNetns) => Promise<T> | T,
  opts?: { lo?: boolean },
): Promise<T> {
  const ns = await TempNetns.create(labels, opts);
  try {
    return await fn([...ns.names], ns);
  } finally {
    await ns.cleanup();
  }
}
