/**
 * How a waiting child learns that something it cares about may have changed, cheaply enough for a
 * hundred children on one node: etcd watches on just the keys of its links (pushed, idle otherwise);
 * on the file store, a stat of the store directory twice a second and, when it changed, one read
 * comparing the revisions of just those keys. (The store's own watch would re-read the whole file ten
 * times a second per watch and per child.)
 */
import type { Store, StoreSettings, Watch } from "../store/mod.ts";

/** The keys and key prefixes a child's next pass depends on. */
export interface Interest {
  keys: string[];
  prefixes: string[];
}

/** Change notifications for one child. */
export interface ChangeFeed {
  /** Marks the start of a pass: a change from here on counts, even one the pass itself read. */
  begin(): Promise<void>;
  /** Sets what to watch from now on (after each pass, as the pod's links become known). */
  focus(interest: Interest): Promise<void>;
  /** Resolves when the watched data may have changed, when `interrupt` is called, or after `ms`. */
  next(ms: number): Promise<void>;
  /** Makes a pending or the next `next` return at once. */
  interrupt(): void;
  close(): void;
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

class WatchFeed implements ChangeFeed {
  readonly #watches = new Map<string, Watch>();
  readonly #waker = new Waker();
  constructor(readonly store: Store, readonly onError: (e: Error) => void) {}

  begin(): Promise<void> {
    return Promise.resolve();
  }

  async focus(interest: Interest): Promise<void> {
    // A key is watched as a prefix too; a longer key sharing it only costs a spurious pass.
    const want = new Set([...interest.keys, ...interest.prefixes]);
    for (const [prefix, w] of this.#watches) {
      if (!want.has(prefix)) {
        w.close();
        this.#watches.delete(prefix);
      }
    }
    for (const prefix of want) {
      if (this.#watches.has(prefix)) continue;
      this.#watches.set(prefix, await this.store.watch(prefix, () => this.#waker.wake(), this.onError));
    }
  }
  next(ms: number): Promise<void> {
    return this.#waker.sleep(ms);
  }
  interrupt(): void {
    this.#waker.wake();
  }
  close(): void {
    for (const w of this.#watches.values()) w.close();
    this.#watches.clear();
  }
}

const STAT_EVERY_MS = 500;

class PollFeed implements ChangeFeed {
  #interest: Interest = { keys: [], prefixes: [] };
  #stamp = "";
  /** Key revisions when the last pass began. */
  #before = new Map<string, number>();
  #fingerprint = "";
  #interrupted = false;
  readonly #waker = new Waker();
  constructor(readonly store: Store, readonly dir: string) {}

  async begin(): Promise<void> {
    this.#stamp = this.#dirStamp();
    this.#before = await this.#revisions();
  }

  focus(interest: Interest): Promise<void> {
    this.#interest = interest;
    this.#fingerprint = this.#print(this.#before);
    return Promise.resolve();
  }

  async next(ms: number): Promise<void> {
    const until = Date.now() + ms;
    // A change during the pass already differs from what the pass began with.
    if (this.#dirStamp() !== this.#stamp && this.#print(await this.#revisions()) !== this.#fingerprint) {
      return;
    }
    while (Date.now() < until && !this.#interrupted) {
      await this.#waker.sleep(Math.min(STAT_EVERY_MS, until - Date.now()));
      const stamp = this.#dirStamp();
      if (stamp === this.#stamp) continue;
      this.#stamp = stamp;
      const print = this.#print(await this.#revisions());
      if (print !== this.#fingerprint) return;
    }
    this.#interrupted = false;
  }

  interrupt(): void {
    this.#interrupted = true;
    this.#waker.wake();
  }

  close(): void {}

  /** Every write renames a new data file into the directory, which changes its mtime. */
  #dirStamp(): string {
    try {
      const st = Deno.statSync(this.dir);
      return `${st.mtime?.getTime()}:${st.ctime?.getTime()}`;
    } catch {
      return "";
    }
  }

  /** Every ratchet key's revision, from one read of the store. */
  async #revisions(): Promise<Map<string, number>> {
    return new Map((await this.store.list("/ratchet/")).map((kv) => [kv.key, kv.modRevision]));
  }

  /** The revisions of the keys of interest. */
  #print(revisions: Map<string, number>): string {
    const { keys, prefixes } = this.#interest;
    const wanted = new Set(keys);
    const out: string[] = [];
    for (const [key, rev] of revisions) {
      if (wanted.has(key) || prefixes.some((p) => key.startsWith(p))) out.push(`${key}@${rev}`);
    }
    return out.join(",");
  }
}

/** The feed that suits the store: watches on etcd, directory stats on the file store. */
export function openFeed(store: Store, settings: StoreSettings, onError: (e: Error) => void): ChangeFeed {
  return settings.kind === "file" ? new PollFeed(store, settings.dir) : new WatchFeed(store, onError);
}
