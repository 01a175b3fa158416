/** setsid(2) through FFI: Deno has no API for it, and /usr/bin/setsid is not on every node. */

/**
 * Makes the calling process the leader of a new session, out of the runtime's process group, so
 * that a kubelet killing the plugin's group does not take the child with it. Returns the new
 * session id, or -1 when the process already leads a group (then it stays where it is).
 */
export function setsid(): number {
  const lib = Deno.dlopen("libc.so.6", { setsid: { parameters: [], result: "i32" } } as const);
  try {
    return lib.symbols.setsid();
  } finally {
    lib.close();
  }
}
