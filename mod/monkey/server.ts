/** The HTTP server: Deno.serve around the handler, with a shutdown that lets requests finish. */
import type { Store } from "../store/mod.ts";
import { createMonkeyHandler } from "./handler.ts";
import { formatHostPort, isLoopback, type ListenAddress } from "./listen.ts";

/** What startMonkey needs. The caller opens and closes the store; the server only borrows it. */
export interface MonkeyServerOptions {
  store: Store;
  listen: ListenAddress;
  token: string;
  /** API reads without a token; defaults to true exactly when `listen` is a loopback address. */
  openReads?: boolean;
}

/** A running monkey. */
export interface MonkeyServer {
  /** The base URL, e.g. http://127.0.0.1:8964/ (with the real port when 0 was asked for). */
  url: string;
  port: number;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /** Stops accepting connections and resolves once in-flight requests are answered. */
  shutdown(): Promise<void>;
}

/**
 * Starts serving at once; throws when the address cannot be bound (e.g. Deno.errors.AddrInUse).
 *
 * @example
 * ```ts
 * const server = startMonkey({ store, listen: { hostname: "127.0.0.1", port: 0 }, token });
 * const pools = await (await fetch(`${server.url}api/pools`)).json();
 * await server.shutdown();
 * ```
 */
export function startMonkey(options: MonkeyServerOptions): MonkeyServer {
  const { store, listen, token } = options;
  const openReads = options.openReads ?? isLoopback(listen.hostname);
  const server = Deno.serve(
    { hostname: listen.hostname, port: listen.port, onListen: () => {} },
    createMonkeyHandler({ store, token, openReads }),
  );
  const port = server.addr.port;
  return {
    url: `http://${formatHostPort(listen.hostname, port)}/`,
    port,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}
