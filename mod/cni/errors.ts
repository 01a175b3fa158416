/**
 * CNI error codes and the error class every role throws to report one.
 *
 * Codes 1-99 are the spec's; 100 and up are this project's own and are listed in README.
 */
export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  StatusNotAvailable: 50,
  StatusNotAvailableIpam: 51,
  /** An unexpected failure inside the plugin; the message says what. */
  Internal: 100,
  /** The kernel refused a netlink request; details carry the errno name. */
  Netlink: 101,
  /** The namespace's pool has no free address in the subnet. */
  PoolExhausted: 102,
  /** Something the configuration or the pod's metadata refers to does not exist (pool, gateway, master, pod). */
  NotFound: 103,
  /** A delegated plugin failed without a CNI error of its own (crash, timeout, garbage output). */
  DelegateFailed: 104,
  /** CHECK found the kernel or the store different from what ADD made. */
  CheckFailed: 105,
} as const;

/** An error in the spec's shape: `{cniVersion, code, msg, details}` on stdout and a non-zero exit. */
export class CniError extends Error {
  constructor(readonly code: number, readonly msg: string, readonly details = "") {
    super(details ? `${msg}: ${details}` : msg);
    this.name = "CniError";
  }

  toJSON(cniVersion: string): Record<string, unknown> {
    const out: Record<string, unknown> = { cniVersion, code: this.code, msg: this.msg };
    if (this.details) out.details = this.details;
    return out;
  }
}

/**
 * Turns anything thrown into a CniError without a stack trace.
 *
 * Libraries stay ignorant of CNI and say what went wrong through fields: `temporary: true`
 * (an unreachable store or API server) becomes code 11, `io: true` (a store file that cannot be read or
 * written) code 5, an `errno` name (a netlink failure) code 101, a `field` name (a settings error
 * naming what the user wrote) code 7, and an `environment` name (a process environment variable whose
 * value is unusable, e.g. not UTF-8) code 4.
 */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof Error) {
    const fields = e as Error & {
      temporary?: boolean;
      io?: boolean;
      errno?: string;
      field?: string;
      environment?: string;
    };
    if (fields.temporary === true) return new CniError(ErrorCode.TryAgainLater, e.message);
    if (fields.io === true) return new CniError(ErrorCode.IoFailure, e.message);
    if (typeof fields.errno === "string") return new CniError(ErrorCode.Netlink, e.message, fields.errno);
    if (typeof fields.field === "string") return new CniError(ErrorCode.InvalidNetworkConfig, e.message);
    if (typeof fields.environment === "string") return new CniError(ErrorCode.InvalidEnvironment, e.message);
    return new CniError(ErrorCode.Internal, e.message || e.name);
  }
  return new CniError(ErrorCode.Internal, String(e));
}

/**
 * Runs a verb and rethrows whatever it throws as the CniError `toCni` maps it to (each role passes its
 * own mapping; the default is {@link toCniError}), so no stack trace reaches the runtime.
 */
export async function mapErrors<T>(
  verb: () => Promise<T>,
  toCni: (e: unknown) => CniError = toCniError,
): Promise<T> {
  try {
    return await verb();
  } catch (e) {
    throw toCni(e);
  }
}
