/**
 * The embedded store: one SQLite database, `DIR/store.db`, through Deno's built-in `node:sqlite`
 * (no npm package; opening it in WAL mode and committing one write costs about 11 ms over an empty
 * Deno program).
 *
 * Many plugin processes use it at once. The database is in WAL mode (readers never block the writer);
 * every write is one `BEGIN IMMEDIATE` transaction, which takes the write lock before reading, so a
 * compare and its write see the same data; waiting for that lock is bounded by a busy timeout, after which
 * the caller gets StoreUnavailableError (CNI code 11), never SQLITE_BUSY.
 *
 * Revisions follow etcd v3: `meta.revision` counts transactions that changed something; each key keeps
 * its create/mod revision and version. Deleted keys leave a row in `tombstone` for watchers, kept for the
 * last TOMBSTONE_KEEP revisions. A watch polls `PRAGMA data_version` (no I/O while nothing changed) and
 * then reads only the rows written since its last revision, through the index on `mod_revision`.
 *
 * Schema (see README, "The store", for reading and editing it with sqlite3):
 *   kv(key TEXT PRIMARY KEY, value TEXT, create_revision, mod_revision, version)   -- WITHOUT ROWID
 *   tombstone(revision, key)   meta(name PRIMARY KEY, value)   PRAGMA user_version = 1
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { checkKey, checkTxn, parseKeyspace } from "./keyspace.ts";
import { StoreCorruptError, StoreError, StoreIoError, StoreUnavailableError } from "./errors.ts";
import { DATABASE_FILE, type FileStoreSettings } from "./settings.ts";
import type { Compare, KeyValue, Op, Store, Watch, WatchEvent } from "./types.ts";

/** The JSON file the store used before SQLite; imported once, then renamed with MIGRATED_SUFFIX. */
export const LEGACY_FILE = "store.json";
/** What the legacy file is renamed to once its keys are in the database. */
export const MIGRATED_SUFFIX = ".migrated";
/** The longest a write waits for another process's transaction before answering "try again later". */
export const BUSY_TIMEOUT_MS = 5000;
/** How often watch and waitFor look at the revision; a plugin waiting for a peer can afford this latency. */
const POLL_MS = 100;
/** Delete events kept for watchers, in revisions; a watcher further behind misses deletes only. */
const TOMBSTONE_KEEP = 10_000;
const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    version INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS kv_mod_revision ON kv (mod_revision);
  CREATE TABLE IF NOT EXISTS tombstone (
    revision INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (revision, key)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0);
  PRAGMA user_version = ${SCHEMA_VERSION};
`;

type Timer = ReturnType<typeof setInterval>;
type Row = Record<string, unknown>;

/** Opens the embedded store; it touches the disk only when first used, and reads never create it. */
export async function openSqliteStore(settings: FileStoreSettings): Promise<Store> {
  // Imported here, not at the top: a plugin bundle hoists a module's static imports to its own start,
  // and node:sqlite (about 6 ms) would then load on every call, etcd-backed ones too.
  const { DatabaseSync } = await import("node:sqlite");
  return new SqliteStore(settings.dir, DatabaseSync);
}

/** The smallest string above every key that starts with `prefix` (U+10FFFF is the last code point). */
function prefixEnd(prefix: string): string {
  return `${prefix}\u{10FFFF}`;
}

function toKeyValue(row: Row): KeyValue {
  return {
    key: row.key as string,
    value: row.value as string,
    createRevision: Number(row.create_revision),
    modRevision: Number(row.mod_revision),
    version: Number(row.version),
  };
}

class SqliteStore implements Store {
  readonly #dir: string;
  readonly #path: string;
  #db?: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  /** Poll timers, each with what to do when close() stops it (a pending waitFor must not hang). */
  readonly #timers = new Map<Timer, () => void>();
  /** Commits on this connection, which `PRAGMA data_version` does not count (it counts other connections'). */
  #commits = 0;
  #closed = false;

  readonly #Database: typeof DatabaseSync;

  constructor(dir: string, database: typeof DatabaseSync) {
    this.#dir = dir;
    this.#Database = database;
    this.#path = `${dir}/${DATABASE_FILE}`;
  }

  describe(): string {
    return `sqlite store ${this.#path}`;
  }

  // Promise.try: the work is synchronous, but callers must get a rejection, not a throw.
  get(key: string): Promise<KeyValue | undefined> {
    return Promise.try(() => {
      checkKey(key);
      return this.#read((db) => this.#get(db, key));
    });
  }

  list(prefix: string): Promise<KeyValue[]> {
    return Promise.try(() =>
      this.#read((db) =>
        this.#sql(db, "SELECT * FROM kv WHERE key >= ? AND key < ? ORDER BY key")
          .all(prefix, prefixEnd(prefix))
          .map(toKeyValue)
      ) ?? []
    );
  }

  listKeys(prefix: string): Promise<string[]> {
    return Promise.try(() =>
      this.#read((db) => {
        // Rows as arrays (node:sqlite has it; its type definitions lag): no object per row, which is most
        // of a long list's cost. This statement serves listKeys alone.
        const statement = this.#sql(db, "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key") as
          & StatementSync
          & { setReturnArrays(enabled: boolean): void };
        statement.setReturnArrays(true);
        return (statement.all(prefix, prefixEnd(prefix)) as unknown as [string][]).map((row) => row[0]);
      }) ?? []
    );
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
      return this.#write((db) => {
        const ok = compares.every((c) => this.#holds(db, c));
        this.#apply(db, ok ? success : failure);
        return ok;
      });
    });
  }

  watch(prefix: string, onChange: (ev: WatchEvent) => void): Promise<Watch> {
    return Promise.try(() => {
      let seen = this.#revision();
      let version = -1;
      const timer = this.#every(() => {
        try {
          const db = this.#connection(false);
          if (!db) return;
          const now = this.#dataVersion(db);
          if (now === version) return;
          version = now;
          const revision = this.#currentRevision(db);
          if (revision === seen) return;
          for (const ev of this.#changes(db, prefix, seen)) onChange(ev);
          seen = revision;
        } catch {
          // A watcher outlives hiccups (a file being repaired by hand); the next poll tries again.
        }
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
    let version = -1;
    // Looks again only after a commit; a store not created yet holds no key (and reads do not create it).
    const check = () => {
      const db = this.#connection(false);
      let kv: KeyValue | undefined;
      if (db) {
        try {
          const now = this.#dataVersion(db);
          if (now === version) return undefined;
          version = now;
          kv = this.#get(db, key);
        } catch (e) {
          throw this.#translate(e);
        }
      }
      return predicate(kv) ? { kv } : undefined;
    };
    return Promise.try(() => {
      checkKey(key);
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
    this.#statements.clear();
    try {
      this.#db?.close();
    } catch {
      // Closing a database whose file went bad still frees the handle; there is nothing to report.
    }
    this.#db = undefined;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A number that changes whenever any connection, this one included, committed a write. */
  #dataVersion(db: DatabaseSync): number {
    return Number(this.#sql(db, "PRAGMA data_version").get()!.data_version) + this.#commits;
  }

  #get(db: DatabaseSync, key: string): KeyValue | undefined {
    const row = this.#sql(db, "SELECT * FROM kv WHERE key = ?").get(key);
    return row ? toKeyValue(row) : undefined;
  }

  /** Whether one compare holds, by etcd's rules: an absent key has modRevision 0 and fails value compares. */
  #holds(db: DatabaseSync, compare: Compare): boolean {
    const kv = this.#get(db, compare.key);
    if ("exists" in compare) return (kv !== undefined) === compare.exists;
    if ("modRevision" in compare) return (kv?.modRevision ?? 0) === compare.modRevision;
    return kv !== undefined && kv.value === compare.value;
  }

  /** Applies the ops as one revision, as etcd does for a transaction; the revision moves only on a change. */
  #apply(db: DatabaseSync, ops: Op[]): void {
    if (ops.length === 0) return;
    const revision = this.#currentRevision(db) + 1;
    let changed = false;
    const tomb = (key: string) =>
      this.#sql(db, "INSERT OR IGNORE INTO tombstone VALUES (?, ?)").run(revision, key);
    for (const op of ops) {
      if ("put" in op) {
        this.#sql(
          db,
          `INSERT INTO kv (key, value, create_revision, mod_revision, version) VALUES (?, ?, ?, ?, 1)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_revision = excluded.mod_revision,
             version = version + 1`,
        ).run(op.put, op.value, revision, revision);
        changed = true;
      } else if ("delete" in op) {
        const gone = this.#sql(db, "DELETE FROM kv WHERE key = ? RETURNING key").all(op.delete);
        for (const row of gone) tomb(row.key as string);
        changed ||= gone.length > 0;
      } else {
        const gone = this.#sql(db, "DELETE FROM kv WHERE key >= ? AND key < ? RETURNING key")
          .all(op.deletePrefix, prefixEnd(op.deletePrefix));
        for (const row of gone) tomb(row.key as string);
        changed ||= gone.length > 0;
      }
    }
    if (!changed) return;
    this.#sql(db, "UPDATE meta SET value = ? WHERE name = 'revision'").run(revision);
    if (revision % 1000 === 0) {
      this.#sql(db, "DELETE FROM tombstone WHERE revision <= ?").run(revision - TOMBSTONE_KEEP);
    }
  }

  /** The events after revision `since` under `prefix`, in revision order; deletes carry the deleting revision. */
  #changes(db: DatabaseSync, prefix: string, since: number): WatchEvent[] {
    const end = prefixEnd(prefix);
    const events: WatchEvent[] = this.#sql(
      db,
      "SELECT * FROM kv WHERE mod_revision > ? AND key >= ? AND key < ?",
    ).all(since, prefix, end).map((row) => ({ type: "put" as const, kv: toKeyValue(row) }));
    for (
      const row of this.#sql(db, "SELECT * FROM tombstone WHERE revision > ? AND key >= ? AND key < ?").all(
        since,
        prefix,
        end,
      )
    ) {
      const revision = Number(row.revision);
      events.push({
        type: "delete",
        kv: { key: row.key as string, value: "", modRevision: revision, createRevision: 0, version: 0 },
      });
    }
    return events.sort((a, b) => a.kv.modRevision - b.kv.modRevision);
  }

  #currentRevision(db: DatabaseSync): number {
    return Number(this.#sql(db, "SELECT value FROM meta WHERE name = 'revision'").get()?.value ?? 0);
  }

  /** The current revision, 0 for a store not created yet. */
  #revision(): number {
    return this.#read((db) => this.#currentRevision(db)) ?? 0;
  }

  #sql(db: DatabaseSync, sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
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

  /** Runs a read in one implicit transaction; undefined when the database does not exist yet. */
  #read<T>(fn: (db: DatabaseSync) => T): T | undefined {
    const db = this.#connection(false);
    if (!db) return undefined;
    try {
      return fn(db);
    } catch (e) {
      throw this.#translate(e);
    }
  }

  /** Runs `fn` in a BEGIN IMMEDIATE transaction: committed when it returns, rolled back when it throws. */
  #write<T>(fn: (db: DatabaseSync) => T): T {
    const db = this.#connection(true)!;
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (e) {
      throw this.#translate(e);
    }
    try {
      const result = fn(db);
      db.exec("COMMIT");
      this.#commits++;
      return result;
    } catch (e) {
      try {
        if (db.isTransaction) db.exec("ROLLBACK");
      } catch {
        // SQLite rolls back on its own after an I/O error; the first error is the one to report.
      }
      throw this.#translate(e);
    }
  }

  /**
   * The connection, opened on first use. A read of a store that does not exist yet gets undefined
   * (reads never create the directory); a write creates it. A legacy store.json is imported first.
   */
  #connection(write: boolean): DatabaseSync | undefined {
    this.#open();
    if (this.#db) return this.#db;
    const exists = pathExists(this.#path);
    const legacy = pathExists(`${this.#dir}/${LEGACY_FILE}`);
    if (!exists && !legacy && !write) return undefined;
    try {
      if (!exists) this.#create();
      this.#db = this.#connect();
      if (legacy) this.#migrate();
    } catch (e) {
      // Left unopened, so that the next call tries again (a file repaired by hand, a disk with room).
      this.#statements.clear();
      try {
        this.#db?.close();
      } catch {
        // The handle of a bad file still closes; the first error is the one to report.
      }
      this.#db = undefined;
      throw this.#translate(e);
    }
    return this.#db;
  }

  #connect(): DatabaseSync {
    const short = checkHeader(this.#path);
    const db = new this.#Database(this.#path);
    try {
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const version = Number(db.prepare("PRAGMA user_version").get()!.user_version);
      if (version !== SCHEMA_VERSION) {
        throw new StoreCorruptError(
          this.#path,
          `schema version ${version}, expected ${SCHEMA_VERSION}: not a database this program wrote`,
        );
      }
      // A file shorter than its header says is truncated, unless a checkpoint is growing it right now:
      // SQLite's own check, on a consistent snapshot, decides (it reads every page, so only then).
      if (short) {
        const verdict = String(Object.values(db.prepare("PRAGMA quick_check(1)").get() ?? {})[0]);
        if (verdict !== "ok") throw new StoreCorruptError(this.#path, `${short}; quick_check: ${verdict}`);
      }
    } catch (e) {
      db.close();
      throw e;
    }
    // NORMAL, SQLite's advice for WAL: a crash or kill -9 loses no commit and never corrupts; a power cut
    // may lose the last commits, which on a CNI node went with the containers they were for (runtimes
    // re-add after a reboot, and GC clears what is left). FULL would fsync every commit: ~5 ms each here.
    db.exec("PRAGMA synchronous = NORMAL");
    return db;
  }

  /**
   * Creates the database beside its final name and links it into place, so that a store.db exists only
   * once it is complete: an empty or half-made store.db is then always damage, never "new".
   */
  #create(): void {
    try {
      Deno.mkdirSync(this.#dir, { recursive: true });
    } catch (e) {
      throw new StoreIoError(this.#dir, `cannot create the store directory: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const temp = `${this.#path}.new.${Deno.pid}`;
    try {
      const db = new this.#Database(temp);
      try {
        db.exec("PRAGMA journal_mode = WAL");
        db.exec(`BEGIN; ${SCHEMA} COMMIT;`);
      } finally {
        db.close();
      }
      try {
        Deno.linkSync(temp, this.#path);
      } catch (e) {
        // Another process created it first: use theirs.
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    } catch (e) {
      throw e instanceof Error && !("errcode" in e)
        ? new StoreIoError(this.#path, `cannot create the database: ${e.message}`, { cause: e })
        : e;
    } finally {
      for (const leftover of [temp, `${temp}-wal`, `${temp}-shm`]) {
        try {
          Deno.removeSync(leftover);
        } catch {
          // Not there: the usual case for -wal and -shm after a clean close.
        }
      }
    }
  }

  /**
   * Imports DIR/store.json (the store's format before SQLite) in one transaction, keeping every key's
   * revisions and version and the store's revision, then renames it to store.json.migrated. The import is
   * recorded in `meta`, so a crash between the commit and the rename does not import it twice.
   */
  #migrate(): void {
    const legacy = `${this.#dir}/${LEGACY_FILE}`;
    this.#write((db) => {
      const done = this.#sql(db, "SELECT value FROM meta WHERE name = 'migrated'").get();
      if (done || !pathExists(legacy)) return;
      let text: string;
      try {
        text = Deno.readTextFileSync(legacy);
      } catch (e) {
        throw new StoreIoError(legacy, `cannot read it to import: ${(e as Error).message}`, { cause: e });
      }
      const space = parseKeyspace(text, legacy);
      const insert = this.#sql(db, "INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)");
      for (const [key, e] of Object.entries(space.keys)) {
        insert.run(key, e.value, e.createRevision, e.modRevision, e.version);
      }
      const revision = Math.max(space.revision, this.#currentRevision(db));
      this.#sql(db, "UPDATE meta SET value = ? WHERE name = 'revision'").run(revision);
      this.#sql(db, "INSERT INTO meta VALUES ('migrated', ?)").run(space.revision);
    });
    try {
      Deno.renameSync(legacy, `${legacy}${MIGRATED_SUFFIX}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new StoreIoError(legacy, `imported, but cannot rename it: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
  }

  /**
   * SQLite's errors as the store's: busy is temporary (code 11); damage and I/O name the file (code 5).
   * node:sqlite sets `errcode` on statement errors only; exec() errors carry SQLite's message alone.
   */
  #translate(e: unknown): StoreError {
    if (e instanceof StoreError) return e;
    const err = e as Error & { errcode?: number; code?: string };
    const message = err?.message ?? String(e);
    const code = typeof err?.errcode === "number" ? err.errcode & 0xff : undefined;
    if (code === 5 || code === 6 || /database (table )?is locked|database is busy/.test(message)) {
      return new StoreUnavailableError(
        this.describe(),
        `another process held the database for over ${BUSY_TIMEOUT_MS} ms (${message})`,
        { cause: e },
      );
    }
    if (code === 11 || code === 26 || /malformed|not a database/.test(message)) {
      return new StoreCorruptError(this.#path, message, { cause: e });
    }
    // SQLITE_IOERR, _PERM, _READONLY, _FULL, _CANTOPEN (10, 3, 8, 13, 14) and their messages.
    if (
      (code !== undefined && [3, 8, 10, 13, 14].includes(code)) ||
      /disk I\/O error|readonly|read-only|is full|unable to open|permission|access denied/i.test(message)
    ) {
      const hint = /unable to open/.test(message)
        ? " (the file and its directory must be readable and writable: SQLite keeps store.db-wal and store.db-shm beside it)"
        : "";
      return new StoreIoError(this.#path, `${message}${hint}`, { cause: e });
    }
    return new StoreError(`${this.describe()}: ${message}`, { cause: e });
  }
}

function pathExists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new StoreIoError(path, `cannot stat: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Refuses a store.db without SQLite's header (empty, or something else): SQLite alone would take an
 * empty file for a new database. Returns why the file looks truncated (shorter than its header says),
 * or undefined: SQLite alone would read the missing pages as zeros and fail only when a query reaches them.
 */
function checkHeader(path: string): string | undefined {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new StoreIoError(path, `cannot open: ${(e as Error).message}`, { cause: e });
  }
  try {
    const header = new Uint8Array(100);
    let got = 0;
    while (got < header.length) {
      const n = file.readSync(header.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    if (got < header.length || new TextDecoder().decode(header.subarray(0, 15)) !== "SQLite format 3") {
      throw new StoreCorruptError(path, got === 0 ? "the file is empty" : "not an SQLite database");
    }
    const view = new DataView(header.buffer);
    const pageSize = view.getUint16(16) === 1 ? 65536 : view.getUint16(16);
    const pages = view.getUint32(28);
    const size = file.statSync().size;
    // The header's page count is valid only when its change counters agree (SQLite file format, 1.3.7).
    if (view.getUint32(24) === view.getUint32(92) && size < pages * pageSize) {
      return `truncated: ${size} bytes, its header says ${pages * pageSize}`;
    }
    return undefined;
  } finally {
    file.close();
  }
}
