/**
 * `ratchet-child waiter --node NODE`: the one process per node that finishes the links ADD could not
 * (their peers had not arrived, or a vxlan peer's end was not up yet). It watches the store once
 * (Store.watch on /ratchet/), works on a container only when a key its links depend on changes,
 * marks a link `failed` (kernel errors, retried with backoff) or `timed out` (past `child_timeout_s`)
 * in the container's wait record, deletes the record once every link is up, and exits by itself
 * after an idle while. Every exit is logged.
 */
import { parseCommand } from "../cli.ts";
import { configureLog, log } from "../cni/log.ts";
import { type KeyValue, openStore, type WatchEvent } from "../store/mod.ts";
import { loadRatchetConf } from "./conf.ts";
import {
  type AttachRecord,
  KEY,
  type LinkTrouble,
  parseRecord,
  type WaiterRecord,
  type WaitRecord,
} from "./keys.ts";
import { OwnWrites } from "./own_writes.ts";
import type { PodLink } from "./resolve.ts";
import { setsid } from "./setsid.ts";
import { settle } from "./settle.ts";
import { CHILD_NAME, isWaiter, type WaiterRequest } from "./waiter.ts";

/** A container is looked at again at least this often, doubling up to the cap, in case an event was lost. */
const RECHECK_MS = 2_000;
const RECHECK_CAP_MS = 60_000;
/** A link the kernel refused is retried after this long, doubling up to the cap. */
const FAILED_RETRY_MS = 1_000;
const FAILED_RETRY_CAP_MS = 30_000;
/** Containers settled at the same time. */
const PARALLEL_PASSES = 4;
/** How long a freshly started waiter waits for its starter to record its pid in the lease. */
const LEASE_WAIT_MS = 5_000;

/** `ms`, give or take half, so that waiters and retries that started together drift apart. */
function jitter(ms: number): number {
  return Math.round(ms * (0.5 + Math.random()));
}

/** One container the waiter works for. */
interface Entry {
  rec: WaitRecord;
  /** The record's text as last read or written, which writes compare. */
  text: string;
  /** Pods (`ns/pod`) and link ids its links depend on, from the last pass. */
  remotes: Set<string>;
  linkIds: Set<string>;
  /** Links not up at the last pass, and those of them whose peer had not registered, for the timeout. */
  waiting: PodLink[];
  absent: Set<string>;
  /** True once this waiter has settled it at least once. */
  settled: boolean;
  /** When to look again without an event (ms since the epoch), and the current delay. */
  due: number;
  delay: number;
}

/** Wakes a sleeper early; remembers a wake that came while nobody slept. */
class Waker {
  #pending = false;
  #wake?: () => void;
  wake(): void {
    this.#pending = true;
    this.#wake?.();
  }
  sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#pending = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(ms, 0));
      this.#wake = done;
    });
  }
}

class Waiter {
  readonly entries = new Map<string, Entry>();
  readonly #dirty = new Set<string>();
  readonly #waker = new Waker();
  #stopped = false;
  #lease = "";

  constructor(readonly store: OwnWrites, readonly node: string, readonly idleMs: number) {}

  stop(): void {
    this.#stopped = true;
    this.#waker.wake();
  }

  /** Takes over the lease its starter recorded for this pid; false when it names another process. */
  async adoptLease(): Promise<boolean> {
    const key = KEY.waiter(this.node);
    const kv = await this.store.waitFor(
      key,
      (v) => parseRecord<WaiterRecord>(v)?.pid === Deno.pid || !!v && !leaseIsStarting(v),
      LEASE_WAIT_MS,
    );
    if (parseRecord<WaiterRecord>(kv)?.pid !== Deno.pid) return false;
    this.#lease = kv!.value;
    return true;
  }

  async run(): Promise<void> {
    const watch = await this.store.watch(
      KEY.all,
      (ev) => this.#onEvent(ev),
      (e) => log.warn(`watch: ${e.message}`),
    );
    try {
      for (const kv of await this.store.list(KEY.waits(this.node))) this.#load(kv);
      let idleSince = Date.now();
      while (!this.#stopped) {
        const now = Date.now();
        // Due: changed, its recheck time came, or its deadline passed and it is not timed out yet.
        const work = [...this.entries.entries()].filter(([cid, e]) =>
          this.#dirty.has(cid) || e.due <= now || (e.rec.deadline <= now && e.due !== Infinity)
        );
        this.#dirty.clear();
        // A few containers at a time: each pass waits on the store, and passes for different
        // containers are independent (claims in the store decide who makes what).
        let taken = 0;
        await Promise.all(Array.from({ length: PARALLEL_PASSES }, async () => {
          while (taken < work.length && !this.#stopped) {
            const [cid, e] = work[taken++];
            if (this.entries.get(cid) !== e) continue;
            await this.#pass(cid, e).catch((err) => {
              e.delay = Math.min(e.delay * 2, RECHECK_CAP_MS);
              e.due = Date.now() + jitter(e.delay);
              log.warn(
                `pod ${e.rec.namespace}/${e.rec.pod}: pass failed, retrying: ${(err as Error).message}`,
              );
            });
          }
        }));
        const active = [...this.entries.values()].filter((e) => e.rec.deadline > Date.now());
        if (active.length) idleSince = Date.now();
        else if (Date.now() - idleSince >= this.idleMs) {
          if (await this.#leave()) return;
          idleSince = Date.now();
        }
        const next = Math.min(
          ...active.map((e) => Math.min(e.due, e.rec.deadline)),
          idleSince + this.idleMs,
        );
        await this.#waker.sleep(next - Date.now());
      }
      log.info("stopped by SIGTERM");
    } finally {
      watch.close();
    }
  }

  /** Gives the lease back, unless work arrived meanwhile; true when the waiter may exit. */
  async #leave(): Promise<boolean> {
    const key = KEY.waiter(this.node);
    if (!(await this.store.txn([{ key, value: this.#lease }], [{ delete: key }]))) {
      log.info("the lease is no longer this waiter's; exiting");
      return true;
    }
    // An ADD that saw the lease just before it went has written its record before looking.
    for (const kv of await this.store.list(KEY.waits(this.node))) this.#load(kv);
    const now = Date.now();
    if (![...this.entries.values()].some((e) => e.rec.deadline > now)) {
      log.info(`nothing to wait for on node ${this.node} for ${Math.round(this.idleMs / 1000)} s; exiting`);
      return true;
    }
    const lease = JSON.stringify({ pid: Deno.pid, at: Date.now() } satisfies WaiterRecord);
    if (!(await this.store.txn([{ key, exists: false }], [{ put: key, value: lease }]))) {
      log.info("another waiter took the node over; exiting");
      return true;
    }
    this.#lease = lease;
    return false;
  }

  #load(kv: KeyValue): void {
    const cid = kv.key.slice(KEY.waits(this.node).length);
    const rec = parseRecord<WaitRecord>(kv);
    if (!rec) return;
    const old = this.entries.get(cid);
    if (old?.text === kv.value) return;
    this.entries.set(cid, {
      rec,
      text: kv.value,
      remotes: old?.remotes ?? new Set(),
      linkIds: old?.linkIds ?? new Set(),
      waiting: old?.waiting ?? [],
      absent: old?.absent ?? new Set(),
      settled: old?.settled ?? false,
      due: 0,
      delay: RECHECK_MS,
    });
    this.#dirty.add(cid);
  }

  /** Which containers a change concerns; the waiter's own writes concern none. */
  #onEvent(ev: WatchEvent): void {
    if (this.store.isOwn(ev)) return;
    const key = ev.kv.key;
    const waits = KEY.waits(this.node);
    const mark = (pred: (e: Entry) => boolean) => {
      for (const [cid, e] of this.entries) if (pred(e)) this.#dirty.add(cid);
    };
    if (key.startsWith(waits)) {
      if (ev.type === "delete") this.entries.delete(key.slice(waits.length));
      else this.#load(ev.kv);
    } else if (key.startsWith(KEY.attaches)) {
      const pod = key.slice(KEY.attaches.length);
      mark((e) => e.remotes.has(pod) || `${e.rec.namespace}/${e.rec.pod}` === pod);
    } else if (key.startsWith(KEY.allPeers)) {
      const [ns, pod] = key.slice(KEY.allPeers.length).split("/");
      mark((e) => e.rec.namespace === ns && e.rec.pod === pod);
    } else if (key.startsWith(KEY.states)) {
      const id = key.slice(KEY.states.length);
      mark((e) => e.linkIds.has(id));
    } else if (key.startsWith(KEY.links)) {
      mark(() => true);
    } else if (key === KEY.waiter(this.node)) {
      if (ev.type === "put" && parseRecord<WaiterRecord>(ev.kv)?.pid !== Deno.pid && this.#lease) {
        log.warn("another process took this node's waiter lease; exiting");
        this.stop();
      }
      return;
    } else return;
    this.#waker.wake();
  }

  /** One settle for one container, and what it says about the container's links. */
  async #pass(cid: string, e: Entry): Promise<void> {
    const key = KEY.wait(this.node, cid);
    const self = { namespace: e.rec.namespace, pod: e.rec.pod };
    // Past the deadline, a record this waiter never settled (its predecessor was killed) gets one last
    // pass first, so that it times out knowing its links (or finishes now).
    if (Date.now() >= e.rec.deadline && e.settled) {
      if (e.due !== Infinity) await this.#timeOut(cid, e);
      return;
    }
    const attach = parseRecord<AttachRecord>(
      await this.store.get(KEY.attach(self.namespace, self.pod)),
    );
    const outcome = attach?.container_id === cid
      ? await settle({ vniStart: e.rec.vni_start, store: this.store, self, attach }, { claimWaitMs: 0 })
      : undefined;
    if (!outcome || outcome.gone) {
      log.info("the pod's registration is gone or newer; dropping its waiting work", { container: cid });
      await this.store.txn([{ key, value: e.text }], [{ delete: key }]);
      this.entries.delete(cid);
      return;
    }
    e.settled = true;
    e.remotes = new Set(outcome.links.map((l) => `${l.remote.namespace}/${l.remote.pod}`));
    e.linkIds = new Set(outcome.links.map((l) => l.id));
    e.waiting = [...outcome.pending, ...outcome.following, ...outcome.failed.map((f) => f.link)];
    e.absent = new Set(outcome.pending.map((l) => l.id));
    if (outcome.links.length > 0 && e.waiting.length === 0) {
      await this.store.txn([{ key, value: e.text }], [{ delete: key }]);
      this.entries.delete(cid);
      log.info(`all ${outcome.links.length} link(s) up`, {
        pod: `${self.namespace}/${self.pod}`,
        container: cid,
      });
      return;
    }
    const troubles: Record<string, LinkTrouble> = {};
    for (const f of outcome.failed) {
      const errno = (f.error as { errno?: unknown }).errno;
      const was = e.rec.links?.[f.link.id];
      troubles[f.link.id] = {
        status: "failed",
        reason: f.error.message,
        ...(typeof errno === "string" ? { errno } : {}),
        at: was?.reason === f.error.message ? was.at : Date.now(),
      };
    }
    await this.#record(cid, e, troubles);
    if (Date.now() >= e.rec.deadline) return await this.#timeOut(cid, e);
    const failing = outcome.failed.length > 0;
    e.delay = failing
      ? Math.min(e.delay === RECHECK_MS ? FAILED_RETRY_MS : e.delay * 2, FAILED_RETRY_CAP_MS)
      : Math.min(e.delay * 2, RECHECK_CAP_MS);
    e.due = Date.now() + jitter(e.delay);
  }

  /** Past the deadline: every link not up is `timed out` (a failed one keeps its reason), logged once. */
  async #timeOut(cid: string, e: Entry): Promise<void> {
    const key = KEY.wait(this.node, cid);
    e.due = Infinity;
    if (e.waiting.length === 0 && !e.rec.links) {
      log.warn(`gave up: no link was declared for the pod within child_timeout_s`, {
        pod: `${e.rec.namespace}/${e.rec.pod}`,
      });
      await this.store.txn([{ key, value: e.text }], [{ delete: key }]);
      this.entries.delete(cid);
      return;
    }
    const troubles: Record<string, LinkTrouble> = { ...e.rec.links };
    for (const l of e.waiting) {
      if (troubles[l.id]?.status === "failed") continue;
      const reason = e.absent.has(l.id)
        ? `pod ${l.remote.namespace}/${l.remote.pod} did not arrive by the deadline`
        : `pod ${l.remote.namespace}/${l.remote.pod} did not bring its end up by the deadline`;
      troubles[l.id] = { status: "timed out", reason, at: Date.now() };
      log.warn(`link ${l.id} timed out: ${reason}`, { container: cid });
    }
    await this.#record(cid, e, troubles);
  }

  /** Writes the links' troubles into the wait record when they changed. */
  async #record(cid: string, e: Entry, troubles: Record<string, LinkTrouble>): Promise<void> {
    const next: WaitRecord = { ...e.rec };
    delete next.links;
    if (Object.keys(troubles).length) next.links = troubles;
    const text = JSON.stringify(next);
    if (text === e.text) return;
    for (const [id, t] of Object.entries(troubles)) {
      if (e.rec.links?.[id]?.reason !== t.reason && t.status === "failed") {
        log.error(`link ${id} failed: ${t.reason}`, { container: cid, errno: t.errno });
      }
    }
    const key = KEY.wait(this.node, cid);
    if (await this.store.txn([{ key, value: e.text }], [{ put: key, value: text }])) {
      e.rec = next;
      e.text = text;
    }
  }
}

/** A lease still being started by some ADD: pid 0, younger than the start lease. */
function leaseIsStarting(kv: KeyValue): boolean {
  return parseRecord<WaiterRecord>(kv)?.pid === 0;
}

/**
 * Runs the node's waiter; returns its exit status (0: idle, stopped, or another waiter runs).
 *
 * @param argv `--node NODE`, for people reading `ps` and for the pid check; the request comes on stdin
 */
export async function waiterRun(argv: string[]): Promise<number> {
  // First of all: out of the runtime's process group before anyone kills it.
  setsid();
  const { values } = parseCommand(argv, "ratchet-child waiter --node NODE", { node: { type: "string" } }, 0);
  const req = JSON.parse(await new Response(Deno.stdin.readable).text()) as WaiterRequest;
  if (values.node !== req.node) {
    throw new Error(`--node ${values.node} does not match the request's ${req.node}`);
  }
  configureLog({
    file: req.conf.log_file,
    level: req.conf.log_level,
    base: { role: CHILD_NAME, node: req.node },
  });
  const conf = loadRatchetConf(req.conf);
  const store = new OwnWrites(await openStore(conf.store));
  const waiter = new Waiter(store, req.node, conf.waiterIdleMs);
  const onTerm = () => waiter.stop();
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    if (!(await waiter.adoptLease())) {
      const rec = parseRecord<WaiterRecord>(await store.get(KEY.waiter(req.node)));
      log.info("another waiter holds this node's lease; exiting", {
        holder: rec?.pid,
        alive: isWaiter(rec?.pid ?? 0, req.node),
      });
      return 0;
    }
    log.info(`waiting for links on node ${req.node}`);
    await waiter.run();
    return 0;
  } finally {
    Deno.removeSignalListener("SIGTERM", onTerm);
    const key = KEY.waiter(req.node);
    const kv = await store.get(key).catch(() => undefined);
    if (parseRecord<WaiterRecord>(kv)?.pid === Deno.pid) {
      await store.txn([{ key, modRevision: kv!.modRevision }], [{ delete: key }]).catch(() => false);
    }
    await store.close();
  }
}
