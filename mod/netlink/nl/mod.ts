/**
 * The netlink wire layer: codec, constants, the libc binding and the socket.
 * Object files (link, addr, route) build on this; nothing else should need it.
 */
export * from "./codec.ts";
export * from "./consts.ts";
export * from "./inet.ts";
export { check, closeFd, cstr, lastErrno, libc, libcExtra, strerror, syscallError } from "./libc.ts";
export { type BatchItem, NetlinkSocket } from "./socket.ts";
