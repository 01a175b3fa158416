/**
 * How a waiting child learns that something it cares about may have changed, cheaply enough for a
 * hundred children on one node: store watches on just the keys of its links (pushed by etcd, idle
 * otherwise; on the embedded SQLite store, a poll of `PRAGMA data_version` that reads rows only after a
 * write).
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

/**
 * The feed for the store: its own watches on both kinds (etcd pushes; the embedded SQLite store polls
 * its revision counter and reads only the rows written since).
 */
export function openFeed(store: Store, settings: StoreSettings, onError: (e: Error) => void): ChangeFeed {
  switch (settings.kind) {
    case "file":
    case "etcd":
      return new WatchFeed(store, onError);
  }
}
