/** `anchor monkey`: the web UI and JSON API over anchor's pools, gateways and allocations and ratchet's links. */
import { lazy } from "../lazy.ts";
import type { Command } from "../role.ts";
import type { Store } from "../store/mod.ts";

const USAGE = "monkey [--listen 127.0.0.1:8964] [--store DIR | --etcd-endpoints URLS " +
  "[--etcd-cert-file F --etcd-key-file F --etcd-ca-cert-file F]] [--token-file F]";

/** The `anchor monkey` subcommand; it loads the server only when run. */
export const monkeyCommand: Command = {
  usage: USAGE,
  summary: "serve the web UI and JSON API for pools, gateways, allocations and links (writes need the token)",
  run: async (args) =>
    (await lazy<typeof import("../cli.ts")>(new URL("../cli.ts", import.meta.url))()).runCommand(() =>
      runMonkey(args)
    ),
};

/**
 * Serves until SIGINT or SIGTERM, then lets requests finish and closes the store. Returns the exit
 * status: 0 after a clean stop, 2 for a refused setting (a non-loopback address without a token file).
 */
async function runMonkey(args: string[]): Promise<number> {
  const { parseCommand, STORE_FLAGS } = await lazy<typeof import("../cli.ts")>(
    new URL("../cli.ts", import.meta.url),
  )();
  const { openStore, storeSettingsFromFlags } = await lazy<typeof import("../store/mod.ts")>(
    new URL("../store/mod.ts", import.meta.url),
  )();
  const { DEFAULT_LISTEN, formatHostPort, isLoopback, parseListen } = await lazy<
    typeof import("./listen.ts")
  >(new URL("./listen.ts", import.meta.url))();
  const { defaultTokenFile, loadOrCreateToken } = await lazy<typeof import("./token.ts")>(
    new URL("./token.ts", import.meta.url),
  )();
  const { startMonkey } = await lazy<typeof import("./server.ts")>(new URL("./server.ts", import.meta.url))();

  const { values } = parseCommand(args, `anchor ${USAGE}`, {
    ...STORE_FLAGS,
    listen: { type: "string" },
    "token-file": { type: "string" },
  }, 0);
  const listen = parseListen((values.listen as string | undefined) ?? DEFAULT_LISTEN);
  const settings = storeSettingsFromFlags(values);
  const loopback = isLoopback(listen.hostname);
  const tokenFile = values["token-file"] as string | undefined;
  if (!loopback && !tokenFile) {
    console.error(
      `monkey: refusing to listen on ${listen.hostname}, which other machines can reach, without a token; ` +
        `pass --token-file FILE (created with a random token when absent): then every request needs it`,
    );
    return 2;
  }
  const tokenPath = tokenFile ?? defaultTokenFile(settings);
  const { token, created } = await loadOrCreateToken(tokenPath);
  if (created) {
    console.log(`monkey: wrote a new API token to ${tokenPath}; send it as Authorization: Bearer <token>`);
  }

  const store = await openStore(settings);
  try {
    await warnIfUnreachable(store);
    let server;
    try {
      server = startMonkey({ store, listen, token, openReads: loopback });
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
      console.error(
        `monkey: ${
          formatHostPort(listen.hostname, listen.port)
        } is in use (another monkey?); pick another with --listen`,
      );
      return 1;
    }
    // Signals are caught before the "serving" line, which tells scripts (and tests) that they may signal.
    const stopped = untilSignal(server.shutdown);
    console.log(`monkey: serving ${store.describe()} on ${server.url}`);
    await stopped;
    await server.finished;
    return 0;
  } finally {
    await store.close();
  }
}

/** An unreachable etcd may come back; serve anyway (the API answers 503 meanwhile) but say so now. */
async function warnIfUnreachable(store: Store): Promise<void> {
  try {
    await store.get("/anchor/ns/");
  } catch (e) {
    console.error(`monkey: warning: ${(e as Error).message}; serving anyway`);
  }
}

/** Resolves after calling `stop` on the first SIGINT or SIGTERM; a second signal exits at once. */
function untilSignal(stop: () => Promise<void>): Promise<void> {
  const signals = ["SIGINT", "SIGTERM"] as const;
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) Deno.exit(130);
      stopping = true;
      console.log("monkey: stopping; answering the requests in flight");
      stop().then(() => {
        for (const s of signals) Deno.removeSignalListener(s, onSignal);
        resolve();
      });
    };
    for (const s of signals) Deno.addSignalListener(s, onSignal);
  });
}
