/**
 * The CNI codes ratchet answers with. The store, netlink and the links parser throw their own error
 * classes; this is the one place that decides which code each gets:
 *
 * | code | when |
 * |---|---|
 * | 7   | bad config field, invalid link labels or annotation, parent_interface missing for a vxlan link, kubeconfig problem |
 * | 11  | the store or the Kubernetes API is unreachable, or a store record kept changing under contention (StoreConflictError) |
 * | 101 | the kernel refused a link (details: the errno name; `EEXIST` for a link end whose name the pod already uses) |
 * | 102 | no VNI left for a vxlan link |
 * | 103 | the peer's node registered no parent_address |
 * | 104 | `delegate` or `boot_network` failed without a CNI error of its own |
 * | 105 | CHECK: an end differs from the store, or the waiter marked a link `failed` or `timed out` |
 */
import { type CniError, mapErrors, toCniError } from "../cni/errors.ts";

/**
 * Maps anything a verb throws to the CNI error it stands for. Contention is one temporary error type
 * (mod/store's StoreConflictError, `temporary === true`), so it is code 11 like an unreachable store.
 */
export function ratchetCniError(e: unknown): CniError {
  return toCniError(e);
}

/** Runs a verb with its errors mapped. */
export function mapped<T>(verb: () => Promise<T>): Promise<T> {
  return mapErrors(verb, ratchetCniError);
}
