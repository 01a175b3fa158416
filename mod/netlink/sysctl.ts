/**
 * Sysctls of the namespace the JS thread is in, through /proc/sys.
 *
 * The files are opened with synchronous libc calls on purpose: /proc/sys/net resolves against
 * the opening thread's namespace, so these work inside {@link withNetns} blocks.
 */
import { check, closeFd, cstr, libc, libcExtra } from "./nl/libc.ts";

const O_RDONLY_CLOEXEC = 0x80000;
const O_WRONLY_CLOEXEC = 0x80001;

/**
 * The /proc/sys path for a key. Dotted keys ("net.ipv4.conf.eth0.proxy_arp") have their dots
 * turned into slashes; a key with slashes ("net/ipv4/conf/eth0.100/proxy_arp") is taken as it is,
 * which is how to name an interface whose name has a dot.
 */
export function sysctlPath(key: string): string {
  const rel = key.includes("/") ? key : key.replaceAll(".", "/");
  if (rel.startsWith("/") || rel.split("/").some((p) => p === ".." || p === "")) {
    throw new TypeError(`bad sysctl key ${JSON.stringify(key)}`);
  }
  return `/proc/sys/${rel}`;
}

/**
 * Writes a sysctl in the current thread's namespace.
 *
 * @throws NetlinkError with errno ENOENT for an unknown key or interface, EINVAL for a bad value
 * @example
 * withNetns(nsPath, () => sysctlSet("net.ipv6.conf.eth0.disable_ipv6", "0"));
 */
export function sysctlSet(key: string, value: string | number): void {
  const path = sysctlPath(key);
  const op = `setting sysctl ${key}=${value}`;
  const c = libc();
  const fd = check(c.open(cstr(path), O_WRONLY_CLOEXEC), op);
  try {
    const data = new TextEncoder().encode(`${value}\n`);
    check(libcExtra().write(fd, data, BigInt(data.length)), op);
  } finally {
    closeFd(fd);
  }
}

/** Reads a sysctl in the current thread's namespace, without the trailing newline. */
export function sysctlGet(key: string): string {
  const path = sysctlPath(key);
  const c = libc();
  const fd = check(c.open(cstr(path), O_RDONLY_CLOEXEC), `reading sysctl ${key}`);
  try {
    const buf = new Uint8Array(4096);
    const n = check(libcExtra().read(fd, buf, BigInt(buf.length)), `reading sysctl ${key}`);
    return new TextDecoder().decode(buf.subarray(0, n)).trimEnd();
  } finally {
    closeFd(fd);
  }
}
