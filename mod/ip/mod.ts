/**
 * IPv4 and IPv6 addresses, CIDR blocks and anchor's pool range grammar, with bigint arithmetic.
 * No dependencies, so every plugin call can import it cheaply.
 * @module
 */
export * from "./addr.ts";
export * from "./cidr.ts";
export * from "./ranges.ts";
