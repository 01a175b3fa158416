/**
 * Typed errors for everything the kernel refuses, whether through netlink or a plain syscall.
 */

// Linux errno numbers (asm-generic/errno-base.h and errno.h) for the names callers test against.
const NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  28: "ENOSPC",
  30: "EROFS",
  34: "ERANGE",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  61: "ENODATA",
  71: "EPROTO",
  75: "EOVERFLOW",
  90: "EMSGSIZE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  94: "ESOCKTNOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  103: "ECONNABORTED",
  105: "ENOBUFS",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  115: "EINPROGRESS",
  122: "EDQUOT",
  125: "ECANCELED",
  132: "ERFKILL",
};

/** The symbolic name of a Linux errno, e.g. 17 -> "EEXIST"; unknown numbers give "E<n>". */
export function errnoName(n: number): string {
  return NAMES[n] ?? `E${n}`;
}

/**
 * A kernel error: a netlink NLMSG_ERROR or a failed syscall.
 *
 * `errno` is the name on purpose: mod/cni maps any error with a string `errno` to CNI code 101.
 *
 * @example
 * try { h.linkAdd({ kind: "bridge", name: "br0" }); }
 * catch (e) { if (e instanceof NetlinkError && e.errno === "EEXIST") { ... } }
 */
export class NetlinkError extends Error {
  /** The errno name, e.g. "EEXIST". */
  readonly errno: string;

  /**
   * @param errnoNumber the positive errno value
   * @param op what was being done, e.g. "creating veth in1"
   * @param description strerror's text
   * @param kernelMessage the extended-ACK text the kernel added, if any
   */
  constructor(
    readonly errnoNumber: number,
    readonly op: string,
    readonly description: string,
    readonly kernelMessage?: string,
  ) {
    const name = errnoName(errnoNumber);
    super(`${name} ${op}: ${description}${kernelMessage ? ` (${kernelMessage})` : ""}`);
    this.name = "NetlinkError";
    this.errno = name;
  }
}

/** Thrown when a path that should name a network namespace does not. */
export class NotNetnsError extends Error {
  /**
   * @param path the path given
   * @param nsType what it is instead, e.g. "mnt namespace" or "not a namespace file"
   */
  constructor(readonly path: string, readonly nsType: string) {
    super(`${path} is not a network namespace (${nsType})`);
    this.name = "NotNetnsError";
  }
}

/**
 * True when `e` says the thing asked for does not exist (ENODEV, ENOENT, ENXIO, ESRCH), which
 * DEL paths treat as success because DEL may run again after everything is gone.
 */
export function isNotFound(e: unknown): boolean {
  return e instanceof NetlinkError &&
    (e.errno === "ENODEV" || e.errno === "ENOENT" || e.errno === "ENXIO" || e.errno === "ESRCH");
}

/** True when `e` is a NetlinkError with the given errno name. */
export function isErrno(e: unknown, name: string): boolean {
  return e instanceof NetlinkError && e.errno === name;
}
