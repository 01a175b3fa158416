/**
 * monkey: the web UI and JSON API over anchor's pools, gateways and allocations and ratchet's links
 * (`anchor monkey`). README, "monkey", documents the API.
 *
 * @example
 * ```ts
 * const store = await openStore({ kind: "file", dir: "/var/lib/cni/anchor" });
 * const server = startMonkey({ store, listen: parseListen("127.0.0.1:8964"), token });
 * // ... later
 * await server.shutdown();
 * await store.close();
 * ```
 * @module
 */
export { monkeyCommand } from "./command.ts";
export { type MonkeyServer, type MonkeyServerOptions, startMonkey } from "./server.ts";
export { createMonkeyHandler, type MonkeyHandlerOptions } from "./handler.ts";
export {
  DEFAULT_LISTEN,
  DEFAULT_PORT,
  formatHostPort,
  isLoopback,
  type ListenAddress,
  ListenError,
  parseListen,
} from "./listen.ts";
export {
  defaultTokenFile,
  loadOrCreateToken,
  TOKEN_FILE_NAME,
  TokenFileError,
  tokenMatches,
} from "./token.ts";
export { HttpError } from "./http.ts";
export type { AllocationView, GatewayView, PoolView } from "./anchor_view.ts";
export type { LinkEndView, LinkView } from "../ratchet/link_view.ts";
