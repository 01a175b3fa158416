/**
 * The embedded store: one pretty JSON file per directory, for a single node without etcd.
 *
 * Writers serialise on an flock of `store.lock` and replace `store.json` by writing `store.json.tmp`,
 * fsyncing it and renaming it over; readers need no lock because a rename is atomic, so they see the
 * old file or the new one, never half of one. A crash leaves at worst a stale temp file, which the next
 * writer truncates. To edit the data by hand, hold the same lock: `flock store.lock vi store.json`.
 */
import {
  applyOps,
  checkKey,
  checkTxn,
  emptyKeyspace,
  formatKeyspace,
  holds,
  type Keyspace,
  listPrefix,
  parseKeyspace,
  toKeyValue,
} from "./keyspace.ts";
import { StoreError } from "./errors.ts";
import type { FileStoreSettings } from "./settings.ts";
import type { Compare, KeyValue, Op, Store, Watch, WatchEvent } from "./types.ts";

/** The data file's name inside the store directory. */
export const DATA_FILE = "store.json";
/** The lock file's name inside the store directory; writers hold an exclusive flock on it. */
export const LOCK_FILE = "store.lock";
const TEMP_FILE = "store.json.tmp";
/** How often watch and waitFor re-read the file; a plugin waiting for a peer can afford this latency. */
const POLL_MS = 100;

type Timer = ReturnType<typeof setInterval>;

/** Opens the file store; it touches the disk only when first used. */
export function openFileStore(settings: FileStoreSettings): Promise<Store> {
  return Promise.resolve(new FileStore(settings.dir));
}

class FileStore implements Store {
  readonly #dir: string;
  readonly #data: string;
  #lock?: Deno.FsFile;
  /** flock does not exclude callers sharing one descriptor, so writers in this process queue here first. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Poll timers, each with what to do when close() stops it (a pending waitFor must not hang). */
  readonly #timers = new Map<Timer, () => void>();
  #closed = false;

  constructor(dir: string) {
    this.#dir = dir;
    this.#data = `${dir}/${DATA_FILE}`;
  }

  describe(): string {
    return `file store ${this.#dir}`;
  }

  // Promise.try: the work is synchronous, but callers must get a rejection, not a throw.
  get(key: string): Promise<KeyValue | undefined> {
    return Promise.try(() => {
      checkKey(key);
      const space = this.#read();
      return Object.hasOwn(space.keys, key) ? toKeyValue(key, space.keys[key]) : undefined;
    });
  }

  list(prefix: string): Promise<KeyValue[]> {
    return Promise.try(() => listPrefix(this.#read(), prefix));
  }

  async put(key: string, value: string): Promise<void> {
    await this.txn([], [{ put: key, value }]);
  }

  delete(key: string): Promise<boolean> {
    return this.txn([{ key, exists: true }], [{ delete: key }]);
  }

  txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<boolean> {
    return Promise.try(() => {
      checkTxn(compares, success, failure);
      return this.#write((space) => {
        const ok = compares.every((c) => holds(space, c));
        return { result: ok, changed: applyOps(space, ok ? success : failure) };
      });
    });
  }

  watch(prefix: string, onChange: (ev: WatchEvent) => void): Promise<Watch> {
    return Promise.try(() => {
      let last = this.#read();
      const timer = this.#every(() => {
        const now = this.#readQuietly();
        if (!now || now.revision === last.revision) return;
        for (const ev of changes(last, now, prefix)) onChange(ev);
        last = now;
      });
      return { close: () => this.#stop(timer) };
    });
  }

  waitFor(
    key: string,
    predicate: (kv?: KeyValue) => boolean,
    timeoutMs: number,
  ): Promise<KeyValue | undefined> {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      checkKey(key);
      const space = this.#read();
      const kv = Object.hasOwn(space.keys, key) ? toKeyValue(key, space.keys[key]) : undefined;
      return predicate(kv) ? { kv } : undefined;
    };
    return Promise.try(() => {
      const first = check();
      if (first) return first.kv;
      return new Promise<KeyValue | undefined>((resolve, reject) => {
        const timer = this.#every(
          () => {
            try {
              const hit = check();
              if (hit || Date.now() >= deadline) {
                this.#stop(timer);
                resolve(hit?.kv);
              }
            } catch (e) {
              this.#stop(timer);
              reject(e);
            }
          },
          Math.min(POLL_MS, Math.max(timeoutMs, 1)),
          () => reject(new StoreError(`${this.describe()} was closed while waiting for ${key}`)),
        );
      });
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    const stopped = [...this.#timers];
    this.#timers.clear();
    for (const [timer, onClose] of stopped) {
      clearInterval(timer);
      onClose();
    }
    this.#lock?.close();
    this.#lock = undefined;
    return Promise.resolve();
  }

  #every(fn: () => void, ms = POLL_MS, onClose = () => {}): Timer {
    this.#open();
    const timer = setInterval(fn, ms);
    this.#timers.set(timer, onClose);
    return timer;
  }

  #stop(timer: Timer): void {
    clearInterval(timer);
    this.#timers.delete(timer);
  }

  #open(): void {
    if (this.#closed) throw new StoreError(`${this.describe()} is closed`);
  }

  #read(): Keyspace {
    this.#open();
    let text: string;
    try {
      text = Deno.readTextFileSync(this.#data);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return emptyKeyspace();
      throw new StoreError(`cannot read ${this.#data}: ${(e as Error).message}`, { cause: e });
    }
    return parseKeyspace(text, this.#data);
  }

  /** A watcher outlives hiccups (a corrupt file being repaired by hand); the next poll tries again. */
  #readQuietly(): Keyspace | undefined {
    try {
      return this.#read();
    } catch {
      return undefined;
    }
  }

  /** Runs `change` on the current data under the lock and persists the data when it changed. */
  #write<T>(change: (space: Keyspace) => { result: T; changed: boolean }): Promise<T> {
    this.#open();
    const run = this.#queue.then(async () => {
      const lock = this.#lockFile();
      await lock.lock(true);
      try {
        const space = this.#read();
        const { result, changed } = change(space);
        if (changed) {
          try {
            this.#persist(space);
          } catch (e) {
            throw new StoreError(`cannot write ${this.#data}: ${(e as Error).message}`, { cause: e });
          }
        }
        return result;
      } finally {
        lock.unlockSync();
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #lockFile(): Deno.FsFile {
    if (this.#lock) return this.#lock;
    const path = `${this.#dir}/${LOCK_FILE}`;
    const options = { read: true, write: true, create: true };
    try {
      this.#lock = Deno.openSync(path, options);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new StoreError(`cannot open ${path}: ${(e as Error).message}`, { cause: e });
      }
      // First write ever: make the directory now rather than at open, so that reads never create it.
      Deno.mkdirSync(this.#dir, { recursive: true });
      this.#lock = Deno.openSync(path, options);
    }
    return this.#lock;
  }

  /** Temp file, fsync, rename, fsync the directory: after a crash the old or the new file is there, whole. */
  #persist(space: Keyspace): void {
    const temp = `${this.#dir}/${TEMP_FILE}`;
    const bytes = new TextEncoder().encode(formatKeyspace(space));
    const file = Deno.openSync(temp, { write: true, create: true, truncate: true });
    try {
      for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
      file.syncDataSync();
    } finally {
      file.close();
    }
    Deno.renameSync(temp, this.#data);
    const dir = Deno.openSync(this.#dir, { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  }
}

/** The events that turn `before` into `after` under `prefix`, in revision order; deletes carry the new revision. */
function changes(before: Keyspace, after: Keyspace, prefix: string): WatchEvent[] {
  const events: WatchEvent[] = [];
  for (const kv of listPrefix(after, prefix)) {
    const old = Object.hasOwn(before.keys, kv.key) ? before.keys[kv.key] : undefined;
    if (old?.modRevision !== kv.modRevision) events.push({ type: "put", kv });
  }
  for (const key of Object.keys(before.keys)) {
    if (key.startsWith(prefix) && !Object.hasOwn(after.keys, key)) {
      events.push({
        type: "delete",
        kv: { key, value: "", modRevision: after.revision, createRevision: 0, version: 0 },
      });
    }
  }
  return events.sort((a, b) => a.kv.modRevision - b.kv.modRevision);
}
