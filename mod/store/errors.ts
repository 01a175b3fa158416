/**
 * Errors the store throws. They carry fields, not just text, and never depend on mod/cni:
 * the CNI layer maps `temporary === true` to code 11 ("try again later") by duck typing.
 */

/** The base of every store error, so callers can tell store failures apart with one instanceof. */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

/**
 * The store could not be reached (connection refused, timeout, no leader, killed mid-call).
 * Retrying later may succeed, hence `temporary`.
 */
export class StoreUnavailableError extends StoreError {
  /** Read by mod/cni to answer CNI code 11. */
  readonly temporary = true;

  constructor(
    /** What was unreachable, e.g. "etcd at http://127.0.0.1:2379". */
    readonly target: string,
    /** The underlying reason, e.g. "14 UNAVAILABLE: ... ECONNREFUSED". */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${target} is unreachable: ${reason}`, options);
    this.name = "StoreUnavailableError";
  }
}

/** The store settings are wrong: the field is named the way the user wrote it (config key or flag). */
export class StoreSettingsError extends StoreError {
  constructor(readonly field: string, readonly problem: string) {
    super(`store settings: ${field}: ${problem}`);
    this.name = "StoreSettingsError";
  }
}

/**
 * The embedded store's file is not a database this program can use (truncated, garbage, a bad
 * `store.json` to import). It is left alone for a human to inspect, never recreated.
 */
export class StoreCorruptError extends StoreError {
  /** Read by mod/cni to answer CNI code 5 (I/O failure). */
  readonly io = true;

  constructor(readonly path: string, readonly problem: string, options?: ErrorOptions) {
    super(`store file ${path} is corrupt: ${problem}`, options);
    this.name = "StoreCorruptError";
  }
}

/**
 * The embedded store's file could not be read or written: permissions, a read-only file system, a
 * full disk. Retrying does not help until someone acts, so it is not `temporary`.
 */
export class StoreIoError extends StoreError {
  /** Read by mod/cni to answer CNI code 5 (I/O failure). */
  readonly io = true;

  constructor(readonly path: string, readonly problem: string, options?: ErrorOptions) {
    super(`store file ${path}: ${problem}`, options);
    this.name = "StoreIoError";
  }
}

/**
 * A compare-and-swap loop (see `retryCas`) lost the race to other writers more times than its budget allowed.
 * It is temporary: under less contention the same call succeeds.
 */
export class StoreConflictError extends StoreError {
  /** Contention passes, so the CNI layer should answer "try again later". */
  readonly temporary = true;

  constructor(readonly key: string, readonly attempts: number) {
    super(`gave up updating ${key} after ${attempts} attempts: other writers kept changing it`);
    this.name = "StoreConflictError";
  }
}
