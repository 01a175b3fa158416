/**
 * The few libc calls this package needs, bound through Deno FFI on first use.
 *
 * All are synchronous on purpose: setns changes only the calling thread, so anything done inside
 * a namespace must run on the JS thread, never on Deno's async worker threads.
 */
import { NetlinkError } from "../errors.ts";

// Binding costs about 0.13 ms a symbol and every plugin call pays it, so what a Handle needs
// is bound first and the rest (error text, files, raw frames) only when used.
const CORE = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  // open and ioctl are variadic in C; with integer-only arguments the fixed-arity call is
  // ABI-compatible on the 64-bit targets Deno ships for.
  open: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64"], result: "i32" },
  ioctlPtr: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // Here rather than below: loading the rest after a failure could itself overwrite errno.
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const EXTRA = {
  strerror: { parameters: ["i32"], result: "pointer" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
} as const;

type Core = Deno.DynamicLibrary<typeof CORE>["symbols"];
type Extra = Deno.DynamicLibrary<typeof EXTRA>["symbols"];

let core: Core | undefined;
let extra: Extra | undefined;

/** The libc calls a Handle needs, loading libc.so.6 on the first call. */
export function libc(): Core {
  core ??= Deno.dlopen("libc.so.6", CORE).symbols;
  return core;
}

/** The rarer libc calls: error text, read/write, sendto. */
export function libcExtra(): Extra {
  extra ??= Deno.dlopen("libc.so.6", EXTRA).symbols;
  return extra;
}

/** The calling thread's errno; read it right after the failing call. */
export function lastErrno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** strerror(n), e.g. "File exists". */
export function strerror(n: number): string {
  const p = libcExtra().strerror(n);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${n}`;
}

/** A NetlinkError from the current errno, for a syscall that returned -1. */
export function syscallError(op: string): NetlinkError {
  const n = lastErrno();
  return new NetlinkError(n, op, strerror(n));
}

/** Throws a NetlinkError for `op` when a syscall result is negative; returns it otherwise. */
export function check(rc: number | bigint, op: string): number {
  const n = Number(rc);
  if (n < 0) throw syscallError(op);
  return n;
}

const encoder = new TextEncoder();

/** A NUL-terminated copy of `s` for char* parameters. */
export function cstr(s: string): Uint8Array {
  const raw = encoder.encode(s);
  const out = new Uint8Array(raw.length + 1);
  out.set(raw);
  return out;
}

/** Closes a file descriptor, ignoring errors (used on cleanup paths). */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}
