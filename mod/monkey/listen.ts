/** Where monkey listens, and whether that is this machine only. */
import { contains, tryParseIp } from "../ip/mod.ts";

/** The original monkey's port, kept so that bookmarks and scripts still work. */
export const DEFAULT_PORT = 8964;
/** Loopback unless told otherwise: the original listened on every address with no authentication. */
export const DEFAULT_LISTEN = `127.0.0.1:${DEFAULT_PORT}`;

/** A parsed `--listen` value. */
export interface ListenAddress {
  /** An IP address or "localhost", without brackets. */
  hostname: string;
  /** 0 lets the kernel pick a free port (tests). */
  port: number;
}

/** `--listen` is wrong; `value` is what was given. */
export class ListenError extends Error {
  constructor(readonly value: string, readonly problem: string) {
    super(`--listen ${JSON.stringify(value)}: ${problem}`);
    this.name = "ListenError";
  }
}

/**
 * Parses `host:port`, `[v6]:port`, `host` (the default port) or `:port` (every address).
 *
 * @example
 * ```ts
 * parseListen("[::1]:8080"); // {hostname: "::1", port: 8080}
 * ```
 */
export function parseListen(value: string): ListenAddress {
  const s = value.trim();
  let host = s, portText = "";
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(s);
  if (bracket) {
    host = bracket[1];
    portText = bracket[2] ?? "";
  } else if (s.indexOf(":") === s.lastIndexOf(":") && s.includes(":")) {
    [host, portText] = s.split(":");
  } else if (s.includes(":")) {
    throw new ListenError(value, "write an IPv6 address in brackets, as in [::1]:8964");
  }
  if (host === "") host = "0.0.0.0";
  if (host !== "localhost" && !tryParseIp(host)) {
    throw new ListenError(value, `${JSON.stringify(host)} is not an IP address`);
  }
  let port = DEFAULT_PORT;
  if (portText !== "") {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 0 && port <= 65535)) {
      throw new ListenError(value, `${JSON.stringify(portText)} is not a port number`);
    }
  }
  return { hostname: host, port };
}

/** True for 127.0.0.0/8, ::1 and "localhost": addresses no other machine can reach. */
export function isLoopback(hostname: string): boolean {
  if (hostname === "localhost") return true;
  const ip = tryParseIp(hostname);
  if (!ip) return false;
  return ip.family === 4 ? contains("127.0.0.0/8", ip) : ip.value === 1n;
}

/** `host:port` as a URL authority (brackets around IPv6). */
export function formatHostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}
