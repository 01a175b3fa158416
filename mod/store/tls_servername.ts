/**
 * Lets gRPC reach etcd at an IP address over TLS under Deno.
 *
 * grpc-js passes the endpoint's host as the TLS `servername` (SNI). RFC 6066 forbids IP addresses
 * there; Node only warns, but Deno's node:tls refuses the connection outright, and anchor's etcd
 * endpoints are usually IPs (`https://192.168.100.86:12379`). Dropping an IP servername keeps
 * certificate checking intact: node:tls then verifies the certificate against `host`, the same IP.
 */
import tls from "node:tls";
import { isIP } from "node:net";

const patched = Symbol.for("ratchet.store.tlsIpServername");

/** Makes `tls.connect` ignore IP-address servernames, once per process. */
export function allowIpEndpointsOverTls(): void {
  const module = tls as unknown as Record<string | symbol, unknown> & {
    connect: (...args: unknown[]) => unknown;
  };
  if (module[patched]) return;
  const connect = module.connect;
  module.connect = function (this: unknown, ...args: unknown[]) {
    for (const arg of args) {
      const options = arg as { servername?: unknown } | null;
      if (
        typeof options === "object" && options !== null && typeof options.servername === "string" &&
        isIP(options.servername)
      ) {
        delete options.servername;
      }
    }
    return connect.apply(this, args);
  };
  module[patched] = true;
}
