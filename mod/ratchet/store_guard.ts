/**
 * Containment for a mod/store bug: with the etcd backend, closing a watch (or a waitFor, or the store
 * after either) makes grpc-js emit "1 CANCELLED: Cancelled on client" on a stream nobody listens to,
 * which Deno treats as an uncaught exception and exits, losing the plugin's result or the child's
 * cleanup. Until the store handles it, ratchet's processes ignore exactly that error.
 */
let installed = false;

/** Ignores grpc's client-side CANCELLED for the rest of the process; everything else still crashes. */
export function ignoreEtcdCancel(): void {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (e) => {
    const err = (e as ErrorEvent).error as { message?: unknown } | undefined;
    if (/^1 CANCELLED: Cancelled on client/.test(String(err?.message))) e.preventDefault();
  });
}
