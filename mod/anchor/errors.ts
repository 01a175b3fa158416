/**
 * The CNI codes anchor answers with. The engine and the libraries throw their own error classes; this is
 * the one place that decides which code each gets:
 *
 * | code | when |
 * |---|---|
 * | 7   | bad config field, bad annotation (subnet missing or malformed, gateway outside its subnet, bad route), malformed pool item, kubeconfig problem |
 * | 11  | the store or the Kubernetes API is unreachable, or ADD lost the address race too many times |
 * | 102 | the namespace's pool has no free address in the subnet |
 * | 103 | no pool for the namespace, no gateway for the subnet, the pod does not exist |
 * | 105 | CHECK: no allocation, or prevResult's address differs from the store's |
 */
import { CniError, ErrorCode, mapErrors, toCniError } from "../cni/errors.ts";
import { IpamError } from "../ipam/errors.ts";

const BY_REASON = {
  Exhausted: ErrorCode.PoolExhausted,
  NotFound: ErrorCode.NotFound,
  Invalid: ErrorCode.InvalidNetworkConfig,
} as const;

/** Maps anything a verb throws to the CNI error it stands for. */
export function anchorCniError(e: unknown): CniError {
  if (e instanceof IpamError) return new CniError(BY_REASON[e.reason], e.message);
  // The rest is mod/cni's mapping: `temporary` (store or API unreachable) is 11, and an error naming
  // a settings `field` (KubeConfigError, StoreSettingsError) is 7.
  return toCniError(e);
}

/** Runs a verb with its errors mapped. */
export function mapped<T>(verb: () => Promise<T>): Promise<T> {
  return mapErrors(verb, anchorCniError);
}
