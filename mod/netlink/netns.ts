/**
 * Network namespaces by path, and synchronous blocks run inside one.
 */
import { NotNetnsError } from "./errors.ts";
import { CLONE_NEWNET, NS_GET_NSTYPE } from "./nl/consts.ts";
import { check, closeFd, cstr, lastErrno, libc, syscallError } from "./nl/libc.ts";

const O_RDONLY_CLOEXEC = 0x80000;
const ENOTTY = 25;
const NS_TYPES: Record<number, string> = {
  0x00020000: "mnt namespace",
  0x02000000: "cgroup namespace",
  0x04000000: "uts namespace",
  0x08000000: "ipc namespace",
  0x10000000: "user namespace",
  0x20000000: "pid namespace",
  0x00000080: "time namespace",
};

/** The calling thread's own namespace file; /proc/self would name the main thread's instead. */
export const THREAD_NETNS = "/proc/thread-self/ns/net";

/**
 * An open network namespace file (/run/netns/x, /proc/PID/ns/net).
 *
 * Holding the fd keeps the namespace alive even if its bind mount is removed.
 *
 * @example
 * const ns = Netns.open("/run/netns/pod1");
 * try { ns.run(() => sysctlSet("net.ipv4.ip_forward", "1")); } finally { ns.close(); }
 */
export class Netns {
  #closed = false;

  private constructor(readonly path: string, readonly fd: number) {}

  /**
   * Opens `path` and checks that it is a network namespace.
   *
   * @throws NetlinkError (errno ENOENT etc.) when it cannot be opened
   * @throws NotNetnsError when it is some other file or another kind of namespace
   */
  static open(path: string): Netns {
    const c = libc();
    const fd = check(c.open(cstr(path), O_RDONLY_CLOEXEC), `opening netns ${path}`);
    const type = c.ioctl(fd, BigInt(NS_GET_NSTYPE));
    if (type !== CLONE_NEWNET) {
      const errno = type < 0 ? lastErrno() : 0;
      closeFd(fd);
      if (type < 0 && errno !== ENOTTY) throw syscallError(`checking netns ${path}`);
      throw new NotNetnsError(
        path,
        type < 0 ? "not a namespace file" : NS_TYPES[type] ?? `namespace type ${type}`,
      );
    }
    return new Netns(path, fd);
  }

  /** The calling thread's current network namespace. */
  static current(): Netns {
    return Netns.open(THREAD_NETNS);
  }

  /** Runs `fn` inside this namespace; see {@link withNetns}. */
  run<T>(fn: () => T): T {
    return enterAndRun(this.fd, this.path, fn);
  }

  /** Releases the fd; the namespace itself is untouched. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }
}

/** Thrown when the block given to withNetns returns a promise: its async parts ran outside. */
export class AsyncInNetnsError extends Error {
  constructor(readonly path: string) {
    super(`the block run in netns ${path} returned a promise; only synchronous work runs inside`);
    this.name = "AsyncInNetnsError";
  }
}

function enterAndRun<T>(fd: number, label: string, fn: () => T): T {
  const c = libc();
  const back = check(c.open(cstr(THREAD_NETNS), O_RDONLY_CLOEXEC), "opening the current netns");
  try {
    check(c.setns(fd, CLONE_NEWNET), `entering netns ${label}`);
    let result: T;
    try {
      result = fn();
    } finally {
      // If this fails the thread is stranded in the wrong namespace; nothing after could be trusted.
      if (c.setns(back, CLONE_NEWNET) < 0) {
        const err = syscallError(`returning from netns ${label}`);
        console.error(err.message);
        Deno.exit(70);
      }
    }
    if (result instanceof Promise) {
      result.catch(() => {});
      throw new AsyncInNetnsError(label);
    }
    return result;
  } finally {
    closeFd(back);
  }
}

/**
 * Runs a synchronous block with the JS thread inside a network namespace, and always switches
 * back. Only synchronous calls (FFI, *Sync file APIs) see the namespace: Deno's async ops run on
 * other threads that stay where they were.
 *
 * @param ns a path such as /run/netns/x or /proc/PID/ns/net, or an open Netns
 * @example
 * withNetns("/run/netns/pod1", () => sysctlSet("net.ipv4.conf.eth0.proxy_arp", "1"));
 */
export function withNetns<T>(ns: string | Netns, fn: () => T): T {
  if (ns instanceof Netns) return ns.run(fn);
  const opened = Netns.open(ns);
  try {
    return opened.run(fn);
  } finally {
    opened.close();
  }
}
