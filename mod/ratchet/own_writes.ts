/**
 * A Store that remembers what it wrote, so that a watcher using it can tell its own writes from
 * everybody else's and never wakes on them (the waiter's rule: no spin).
 */
import type { Compare, KeyValue, Op, Store, Watch, WatchEvent } from "../store/mod.ts";

/** Keys remembered at most; past it the oldest go (a missed match only costs one spurious pass). */
const REMEMBERED = 10_000;

/** Wraps `inner`; every successful write is remembered until its watch event comes back. */
export class OwnWrites implements Store {
  /** key -> the value this process last wrote, or null for a delete. */
  readonly #mine = new Map<string, string | null>();

  constructor(readonly inner: Store) {}

  /** True (once) when `ev` is the echo of this process's own last write to that key. */
  isOwn(ev: WatchEvent): boolean {
    const want = this.#mine.get(ev.kv.key);
    if (want === undefined) return false;
    const own = ev.type === "delete" ? want === null : want === ev.kv.value;
    if (own) this.#mine.delete(ev.kv.key);
    return own;
  }

  #remember(ops: Op[]): void {
    for (const op of ops) {
      if ("put" in op) this.#set(op.put, op.value);
      else if ("delete" in op) this.#set(op.delete, null);
    }
  }

  #forget(ops: Op[]): void {
    for (const op of ops) {
      if ("put" in op) this.#mine.delete(op.put);
      else if ("delete" in op) this.#mine.delete(op.delete);
    }
  }

  #set(key: string, value: string | null): void {
    this.#mine.delete(key);
    this.#mine.set(key, value);
    if (this.#mine.size > REMEMBERED) this.#mine.delete(this.#mine.keys().next().value!);
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<KeyValue[]> {
    return this.inner.list(prefix);
  }
  listKeys(prefix: string): Promise<string[]> {
    return this.inner.listKeys(prefix);
  }
  put(key: string, value: string): Promise<void> {
    this.#set(key, value);
    return this.inner.put(key, value);
  }
  delete(key: string): Promise<boolean> {
    this.#set(key, null);
    return this.inner.delete(key);
  }
  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<boolean> {
    // Remembered before the call: the watch's echo may come back before the reply does.
    this.#remember(success);
    const ok = await this.inner.txn(compares, success, failure).catch((e) => {
      this.#forget(success);
      throw e;
    });
    if (!ok) {
      this.#forget(success);
      this.#remember(failure);
    }
    return ok;
  }
  watch(prefix: string, onChange: (ev: WatchEvent) => void, onError?: (e: Error) => void): Promise<Watch> {
    return this.inner.watch(prefix, onChange, onError);
  }
  waitFor(
    key: string,
    predicate: (kv?: KeyValue) => boolean,
    timeoutMs: number,
  ): Promise<KeyValue | undefined> {
    return this.inner.waitFor(key, predicate, timeoutMs);
  }
  describe(): string {
    return this.inner.describe();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
