/**
 * Why an allocation could not be made. The engine knows nothing of CNI: each error says what kind of
 * failure it is in `reason`, and the plugin layer turns that into a code (mod/anchor/errors.ts).
 */
import type { RangeItemError } from "../ip/ranges.ts";

/** The kinds of failure, each with one CNI code in mod/anchor. */
export type IpamFailure =
  /** No free address is left (CNI 102). */
  | "Exhausted"
  /** A pool, gateway or record the request refers to is absent (CNI 103). */
  | "NotFound"
  /** An input or stored value is malformed or contradicts another (CNI 7). */
  | "Invalid";

/** The base of every engine error. */
export class IpamError extends Error {
  constructor(readonly reason: IpamFailure, message: string) {
    super(message);
    this.name = "IpamError";
  }
}

/** How the pool's addresses in the subnet are spent, for the message of {@link PoolExhaustedError}. */
export interface PoolUsage {
  /** Pool addresses held by an allocation (a record or a guard). */
  allocated: bigint;
  /** Pool addresses no pod may get, each with why: `10.0.1.1 (gateway)`. */
  reserved: string[];
}

/** The namespace's pool has no free address in the subnet. */
export class PoolExhaustedError extends IpamError {
  constructor(
    readonly namespace: string,
    readonly subnet: string,
    readonly poolSize: bigint,
    readonly usage: PoolUsage = { allocated: poolSize, reserved: [] },
  ) {
    const reserved = BigInt(usage.reserved.length);
    const free = poolSize - usage.allocated - reserved;
    super(
      "Exhausted",
      poolSize === 0n
        ? `the pool of namespace ${namespace} has no address in subnet ${subnet}`
        : `the pool of namespace ${namespace} has no free address in subnet ${subnet}: of its ${poolSize} ` +
          `addresses there, ${
            free > 0n ? free : 0n
          } free, ${usage.allocated} allocated, ${reserved} reserved` +
          (usage.reserved.length ? `: ${usage.reserved.join(", ")}` : ""),
    );
    this.name = "PoolExhaustedError";
  }
}

/** No pool is stored for the namespace. */
export class NoPoolError extends IpamError {
  constructor(readonly namespace: string) {
    super(
      "NotFound",
      `no address pool for namespace ${namespace} (store key /anchor/ns/${namespace}; set one with: anchor pool set ${namespace} RANGES)`,
    );
    this.name = "NoPoolError";
  }
}

/** A pool string has malformed items; every one is listed, each naming the item. */
export class PoolSyntaxError extends IpamError {
  constructor(readonly where: string, readonly items: RangeItemError[]) {
    super("Invalid", `${where}: ${items.map((i) => i.message).join("; ")}`);
    this.name = "PoolSyntaxError";
  }
}

/** The subnet cannot hold pods: not a network block, or too small. `source` names where it came from. */
export class SubnetError extends IpamError {
  constructor(readonly source: string, readonly subnet: string, readonly problem: string) {
    super("Invalid", `${source} ${JSON.stringify(subnet)}: ${problem}`);
    this.name = "SubnetError";
  }
}

/** Neither the pod nor the store names a gateway for the subnet. */
export class GatewayNotFoundError extends IpamError {
  constructor(readonly subnet: string) {
    super(
      "NotFound",
      `no gateway for subnet ${subnet} (store key /anchor/gw/${subnet}; set one with: anchor gw set ${subnet} GATEWAY)`,
    );
    this.name = "GatewayNotFoundError";
  }
}

/** A gateway is not an address, or is not a host address of its subnet. */
export class GatewayError extends IpamError {
  constructor(
    readonly source: string,
    readonly gateway: string,
    readonly subnet: string,
    readonly problem: string,
  ) {
    super("Invalid", `${source} ${JSON.stringify(gateway)} for subnet ${subnet}: ${problem}`);
    this.name = "GatewayError";
  }
}
