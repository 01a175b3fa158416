/**
 * Errors octopus reports; each is a CniError, so the dispatcher prints it with its code, and each
 * carries the fields a person needs to fix the node or the pod.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";

/** No `octopus` entry serves the pod's subnet (or address) on this node: code 103. */
export class UnknownSubnetError extends CniError {
  /**
   * @param wanted the subnet annotation or the address that was looked up
   * @param known the subnets this node's `octopus` map serves
   */
  constructor(readonly wanted: string, readonly known: string[]) {
    super(
      ErrorCode.NotFound,
      `no master interface for ${wanted} on this node`,
      `octopus serves ${known.join(", ") || "no subnet"}`,
    );
    this.name = "UnknownSubnetError";
  }
}

/** The `octopus` map names a master that this node does not have: code 103. */
export class MasterMissingError extends CniError {
  constructor(readonly master: string, readonly subnet: string) {
    super(ErrorCode.NotFound, `master interface ${master} for subnet ${subnet} does not exist on this node`);
    this.name = "MasterMissingError";
  }
}

/**
 * The master exists but is administratively down, so a macvlan on it would carry nothing: code 103,
 * because the usable master the configuration refers to is not there.
 */
export class MasterDownError extends CniError {
  constructor(readonly master: string, readonly subnet: string) {
    super(
      ErrorCode.NotFound,
      `master interface ${master} for subnet ${subnet} is down`,
      "bring it up first (ip link set dev " + master + " up)",
    );
    this.name = "MasterDownError";
  }
}

/** IPAM answered without an address, so there is nothing to put on the interface: code 100. */
export class NoAddressError extends CniError {
  constructor(readonly ipamType: string) {
    super(ErrorCode.Internal, `IPAM plugin ${ipamType} returned no IP address`);
    this.name = "NoAddressError";
  }
}
