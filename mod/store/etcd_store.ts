/**
 * The etcd v3 backend, through the npm "etcd3" client.
 *
 * This module is imported only when etcd is configured, and it imports "etcd3" itself lazily: loading
 * gRPC costs ~150-200 ms that a file-store invocation must not pay.
 *
 * Fault handling is tuned for a CNI plugin, which would rather fail fast with "try again later" than
 * hang the runtime: each call has a deadline, there is no circuit breaker, and a call is retried on
 * another endpoint only when it never left this process (so a claim is never applied twice).
 */
import { Buffer } from "node:buffer";
import type { Etcd3, ICompare, IKeyValue, IOptions, IRequestOp, Watcher } from "etcd3";
import { checkKey, checkTxn } from "./keyspace.ts";
import { StoreError, StoreSettingsError, StoreUnavailableError } from "./errors.ts";

/** How Node's TLS reports a peer certificate it cannot trust (unknown CA, wrong name, expired). */
const UNTRUSTED_PEER =
  /unable to verify|self[- ]signed|certificate (has expired|is not yet valid)|is not in the cert's list|ERR_TLS_CERT|CERT_UNTRUSTED|UNABLE_TO_GET_ISSUER/i;
import type { EtcdStoreSettings } from "./settings.ts";
import { allowIpEndpointsOverTls } from "./tls_servername.ts";
import type { Compare, KeyValue, Op, Store, Watch, WatchEvent } from "./types.ts";

type EtcdModule = typeof import("etcd3");

/** Reconnect delay for a broken watch stream; the library's default grows to 30 s. */
const WATCH_RECONNECT_MS = 250;

/** Builds the client; nothing goes over the network until the first call. */
export async function openEtcdStore(settings: EtcdStoreSettings): Promise<Store> {
  const credentials = await tlsCredentials(settings);
  if (settings.endpoints.some((e) => e.startsWith("https://"))) allowIpEndpointsOverTls();
  const etcd = await import("etcd3");
  const options: IOptions = {
    hosts: settings.endpoints,
    credentials,
    auth: settings.username ? { username: settings.username, password: settings.password ?? "" } : undefined,
    // Streams (watches) live until closed; every other call gets the deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + settings.timeoutMs }),
    faultHandling: {
      host: () => passThrough as never,
      global: failover(settings.endpoints.length) as never,
      watchBackoff: constantBackoff(WATCH_RECONNECT_MS) as never,
    },
  };
  return new EtcdStore(etcd, new etcd.Etcd3(options), settings);
}

async function tlsCredentials(settings: EtcdStoreSettings): Promise<IOptions["credentials"]> {
  if (!settings.certFile && !settings.caCertFile) return undefined;
  const read = async (field: string, path?: string) => {
    if (!path) return undefined;
    try {
      return Buffer.from(await Deno.readFile(path));
    } catch (e) {
      throw new StoreSettingsError(field, `cannot read ${path}: ${(e as Error).message}`);
    }
  };
  return {
    // grpc-js takes null for "the system's roots"; the library's type insists on a Buffer.
    rootCertificate: (await read("etcd_ca_cert_file", settings.caCertFile)) ?? (null as unknown as Buffer),
    privateKey: await read("etcd_key_file", settings.keyFile),
    certChain: await read("etcd_cert_file", settings.certFile),
  };
}

/** A cockatiel policy that just runs the call: no circuit breaker keeping a recovered etcd shut out. */
const passThrough = {
  // async on purpose: the library's markFailed passes a function that throws synchronously and
  // expects a rejected promise back; a plain call would throw out of a stream event handler.
  execute: async <T>(fn: (ctx: unknown) => Promise<T>) =>
    await fn({ signal: new AbortController().signal, attempt: 0 }),
};

/** Retries on the next endpoint only when no connection was made, i.e. the request was never sent. */
function failover(endpoints: number) {
  return {
    async execute<T>(fn: (ctx: unknown) => Promise<T>): Promise<T> {
      for (let attempt = 0;; attempt++) {
        try {
          return await fn({ signal: new AbortController().signal, attempt });
        } catch (e) {
          if (attempt + 1 >= endpoints || !/No connection established|ECONNREFUSED/.test(String(e))) throw e;
        }
      }
    },
  };
}

function constantBackoff(duration: number) {
  const backoff = { duration, next: () => backoff };
  return backoff;
}

/** etcd's answers as the store's shape; revisions come as decimal strings. */
function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value?.toString() ?? "",
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
    version: Number(kv.version),
  };
}

function compareOf(c: Compare): ICompare {
  const key = Buffer.from(c.key);
  if ("exists" in c) return { key, target: "Version", result: c.exists ? "Greater" : "Equal", version: 0 };
  if ("modRevision" in c) return { key, target: "Mod", result: "Equal", mod_revision: c.modRevision };
  return { key, target: "Value", result: "Equal", value: Buffer.from(c.value) };
}

class EtcdStore implements Store {
  readonly #etcd: EtcdModule;
  readonly #client: Etcd3;
  readonly #settings: EtcdStoreSettings;
  readonly #watchers = new Set<Watcher>();
  /** Pending waitFor calls, which close() ends with an error rather than leaving them hanging. */
  readonly #waiting = new Set<() => void>();
  #closed = false;

  constructor(etcd: EtcdModule, client: Etcd3, settings: EtcdStoreSettings) {
    this.#etcd = etcd;
    this.#client = client;
    this.#settings = settings;
  }

  describe(): string {
    return `etcd ${this.#settings.endpoints.join(",")}`;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    checkKey(key);
    const res = await this.#call(() => this.#client.kv.range({ key: Buffer.from(key) }));
    return res.kvs[0] ? toKeyValue(res.kvs[0]) : undefined;
  }

  async list(prefix: string): Promise<KeyValue[]> {
    const range = this.#etcd.Range.prefix(prefix);
    const res = await this.#call(() => this.#client.kv.range({ key: range.start, range_end: range.end }));
    return res.kvs.map(toKeyValue);
  }

  async put(key: string, value: string): Promise<void> {
    checkKey(key);
    await this.#call(() => this.#client.kv.put({ key: Buffer.from(key), value: Buffer.from(value) }));
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const res = await this.#call(() => this.#client.kv.deleteRange({ key: Buffer.from(key) }));
    return Number(res.deleted) > 0;
  }

  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<boolean> {
    checkTxn(compares, success, failure);
    const res = await this.#call(() =>
      this.#client.kv.txn({
        compare: compares.map(compareOf),
        success: success.map((op) => this.#requestOf(op)),
        failure: failure.map((op) => this.#requestOf(op)),
      })
    );
    return res.succeeded;
  }

  async watch(
    prefix: string,
    onChange: (ev: WatchEvent) => void,
    onError?: (e: StoreError) => void,
  ): Promise<Watch> {
    const watcher = this.#watcher(this.#client.watch().prefix(prefix));
    watcher.on("put", (kv) => onChange({ type: "put", kv: toKeyValue(kv) }));
    watcher.on("delete", (kv) => onChange({ type: "delete", kv: toKeyValue(kv) }));
    watcher.on("error", (e) => onError?.(this.#translate(e)));
    await this.#attached(watcher);
    return { close: () => this.#release(watcher) };
  }

  async waitFor(
    key: string,
    predicate: (kv?: KeyValue) => boolean,
    timeoutMs: number,
  ): Promise<KeyValue | undefined> {
    checkKey(key);
    const deadline = Date.now() + timeoutMs;
    const res = await this.#call(() => this.#client.kv.range({ key: Buffer.from(key) }));
    const current = res.kvs[0] ? toKeyValue(res.kvs[0]) : undefined;
    if (predicate(current)) return current;
    if (Date.now() >= deadline) return undefined;
    // Start right after the read, so that a change between the read and the watch is not missed.
    const watcher = this.#watcher(
      this.#client.watch().key(key).startRevision(String(Number(res.header.revision) + 1)),
    );
    return await new Promise<KeyValue | undefined>((resolve, reject) => {
      let connected = false;
      let lastError: unknown;
      const finish = (settle: () => void) => {
        this.#waiting.delete(abandon);
        clearTimeout(timer);
        this.#release(watcher);
        settle();
      };
      const test = (kv?: KeyValue) => {
        try {
          if (predicate(kv)) finish(() => resolve(kv));
        } catch (e) {
          finish(() => reject(e));
        }
      };
      // A timeout while etcd is away is not "the peer never came": say the store is unreachable.
      const timer = setTimeout(
        () =>
          finish(() =>
            connected
              ? resolve(undefined)
              : reject(this.#unavailable(lastError ?? `no watch on ${key} within ${timeoutMs} ms`))
          ),
        deadline - Date.now(),
      );
      const abandon = () =>
        finish(() => reject(new StoreError(`${this.describe()} was closed while waiting for ${key}`)));
      this.#waiting.add(abandon);
      watcher.on("connected", () => (connected = true));
      watcher.on("disconnected", (e) => {
        connected = false;
        lastError = e;
      });
      watcher.on("error", (e) => finish(() => reject(this.#translate(e))));
      watcher.on("put", (kv) => test(toKeyValue(kv)));
      watcher.on("delete", () => test(undefined));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const abandon of [...this.#waiting]) abandon();
    // Watchers left attached would make the library reconnect forever after the client closes.
    await Promise.all([...this.#watchers].map((w) => this.#release(w)));
    this.#client.close();
  }

  #requestOf(op: Op): IRequestOp {
    if ("put" in op) return { request_put: { key: Buffer.from(op.put), value: Buffer.from(op.value) } };
    if ("delete" in op) return { request_delete_range: { key: Buffer.from(op.delete) } };
    const range = this.#etcd.Range.prefix(op.deletePrefix);
    return { request_delete_range: { key: range.start, range_end: range.end } };
  }

  #watcher(builder: ReturnType<Etcd3["watch"]>): Watcher {
    this.#open();
    const watcher = builder.watcher();
    this.#watchers.add(watcher);
    return watcher;
  }

  /** Resolves once etcd has created the watch; the library alone would wait forever for a dead etcd. */
  #attached(watcher: Watcher): Promise<void> {
    return new Promise((resolve, reject) => {
      let lastError: unknown;
      const timer = setTimeout(() => {
        this.#release(watcher);
        reject(this.#unavailable(lastError ?? `no watch within ${this.#settings.timeoutMs} ms`));
      }, this.#settings.timeoutMs);
      watcher.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      watcher.on("disconnected", (e) => (lastError = e));
    });
  }

  /** Cancels a watch, waiting at most one call's deadline for etcd to confirm. */
  #release(watcher: Watcher): Promise<void> {
    if (!this.#watchers.delete(watcher)) return Promise.resolve();
    watcher.removeAllListeners("put").removeAllListeners("delete");
    // The library emits "error" on a listener-less emitter, which would throw; keep one.
    watcher.on("error", () => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      watcher.cancel().catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#settings.timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  #open(): void {
    if (this.#closed) throw new StoreError(`${this.describe()} is closed`);
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    this.#open();
    try {
      return await fn();
    } catch (e) {
      throw this.#translate(e);
    }
  }

  #translate(e: unknown): StoreError {
    if (e instanceof StoreError) return e;
    // A certificate etcd or we refuse stays refused however often the call is retried: a settings
    // error, not "try again later".
    if (UNTRUSTED_PEER.test(String(e))) {
      return new StoreSettingsError(
        "etcd_ca_cert_file/etcd_cert_file/etcd_key_file",
        `TLS with ${this.#settings.endpoints.join(",")} failed: ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
    }
    const transient = typeof e === "object" && e !== null && this.#etcd.isRecoverableError(e as Error);
    const busy = /etcdserver: (request timed out|no leader|leader changed|too many requests|server stopped)/
      .test(String(e));
    if (transient || busy) return this.#unavailable(e);
    return new StoreError(`${this.describe()}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }

  #unavailable(e: unknown): StoreUnavailableError {
    const reason = e instanceof Error ? e.message : String(e);
    return new StoreUnavailableError(`etcd at ${this.#settings.endpoints.join(",")}`, reason, { cause: e });
  }
}
