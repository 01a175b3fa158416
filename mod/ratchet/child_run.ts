/**
 * `ratchet-child wait`: the detached process that finishes a pod's links when its peers arrive.
 * It watches the store (etcd watch; the file store polls), settles after every change, and exits
 * when every link is made, when its pod's registration goes (DEL, or a newer container), on
 * SIGTERM from DEL, or at its deadline; every exit is logged.
 */
import { parseCommand } from "../cli.ts";
import { configureLog, log } from "../cni/log.ts";
import { openStore } from "../store/mod.ts";
import { CHILD_NAME, type ChildRequest } from "./child.ts";
import { loadRatchetConf } from "./conf.ts";
import { type ChildRecord, KEY, parseRecord } from "./keys.ts";
import { attachRecord } from "./register.ts";
import { setsid } from "./setsid.ts";
import { settle } from "./settle.ts";
import { type Interest, openFeed } from "./feed.ts";
import type { PodLink, PodRef } from "./resolve.ts";

/** A pass runs at least this often, in case a watch event was lost. */
const RETRY_MS = 2000;
/** How long the child lets the peer's side finish a veth it claimed. */
const CLAIM_WAIT_MS = 5000;

/**
 * Runs the child; returns its exit status (0: done, stopped, or no longer needed; 1: gave up).
 *
 * @param argv `--container ID --pod NAMESPACE/NAME`, for people reading `ps`; the request comes on stdin
 */
export async function childWait(argv: string[]): Promise<number> {
  // First of all: out of the runtime's process group before anyone kills it.
  setsid();
  const { values } = parseCommand(
    argv,
    "ratchet-child wait --container ID --pod NAMESPACE/NAME",
    { container: { type: "string" }, pod: { type: "string" } },
    0,
  );
  const req = JSON.parse(await new Response(Deno.stdin.readable).text()) as ChildRequest;
  if (values.container !== undefined && values.container !== req.containerId) {
    throw new Error(`--container ${values.container} does not match the request's ${req.containerId}`);
  }
  configureLog({
    file: req.conf.log_file,
    level: req.conf.log_level,
    base: { role: CHILD_NAME, container: req.containerId },
  });
  const conf = loadRatchetConf(req.conf);
  const self = { namespace: req.namespace, pod: req.pod };
  const store = await openStore(conf.store);
  const feed = openFeed(store, conf.store, (e) => log.warn(`watch: ${e.message}`));
  let stopped = false;
  const onTerm = () => {
    stopped = true;
    feed.interrupt();
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    log.info("waiting for peers", {
      pod: `${self.namespace}/${self.pod}`,
      until: new Date(req.deadline).toISOString(),
    });
    let pending: string[] = [];
    while (!stopped && Date.now() < req.deadline) {
      try {
        await feed.begin();
        const attach = await attachRecord(store, self);
        if (attach?.container_id !== req.containerId) {
          log.info("the pod's registration is gone or newer; nothing left to do");
          return 0;
        }
        const outcome = await settle({ conf, store, self, attach }, { claimWaitMs: CLAIM_WAIT_MS });
        pending = [...outcome.pending, ...outcome.failed.map((f) => f.link)].map((l) => l.id);
        if (outcome.links.length > 0 && pending.length === 0) {
          log.info(`all ${outcome.links.length} link(s) made`);
          return 0;
        }
        await feed.focus(interest(self, outcome.links));
      } catch (e) {
        log.warn(`pass failed, retrying: ${(e as Error).message}`);
      }
      if (!stopped) await feed.next(Math.min(RETRY_MS, req.deadline - Date.now()));
    }
    if (stopped) {
      log.info("stopped by SIGTERM");
      return 0;
    }
    log.warn(`gave up waiting after ${Math.round(conf.childTimeoutMs / 1000)} s`, { pending });
    return 1;
  } finally {
    Deno.removeSignalListener("SIGTERM", onTerm);
    try {
      feed.close();
    } catch (e) {
      log.warn(`closing the watches: ${(e as Error).message}`);
    }
    await forget(store, self).catch((e) =>
      log.warn(`cannot remove the child record: ${(e as Error).message}`)
    );
    await store.close();
  }
}

/** What the next pass depends on: the pod's registration, its peers' and links' records, new declarations. */
function interest(self: PodRef, links: PodLink[]): Interest {
  return {
    keys: [
      KEY.attach(self.namespace, self.pod),
      ...links.flatMap((l) => [KEY.attach(l.remote.namespace, l.remote.pod), KEY.state(l.id)]),
    ],
    prefixes: [KEY.peers(self.namespace, self.pod), KEY.links],
  };
}

/** Removes the pod's child record if it is this process's. */
async function forget(
  store: Awaited<ReturnType<typeof openStore>>,
  self: { namespace: string; pod: string },
) {
  const key = KEY.child(self.namespace, self.pod);
  const kv = await store.get(key);
  if (parseRecord<ChildRecord>(kv)?.pid === Deno.pid) {
    await store.txn([{ key, modRevision: kv!.modRevision }], [{ delete: key }]);
  }
}
