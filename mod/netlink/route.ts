/**
 * Routes (IPv4 and IPv6, default routes included): the typed object and its messages.
 */
import {
  afOf,
  dv,
  familyDumpMsg,
  familyOfAf,
  getU32,
  MessageBuilder,
  type NlMessage,
  parseAttrs,
} from "./nl/codec.ts";
import {
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTMSG_LEN,
  RTN_UNICAST,
  RTPROT_BOOT,
} from "./nl/consts.ts";
import { type Cidr, formatIp, parseCidr, parseIp } from "./nl/inet.ts";
import { type Scope, scopeName, scopeNumber } from "./scope.ts";

/** What to add, replace or delete. Omitted fields take iproute2's defaults. */
export interface RouteSpec {
  /** "10.1.0.0/16", "fd00::/64" or "default" (the default when omitted). */
  dst?: string;
  gw?: string;
  /** The outgoing link by name or ifindex. */
  dev?: string | number;
  /** Default: "link" for a route without a gateway, "global" otherwise (IPv6: always global). */
  scope?: Scope;
  /** Default: main (254). */
  table?: number;
  /** The route's priority (RTA_PRIORITY). */
  metric?: number;
  /** Preferred source address. */
  src?: string;
  /** Default: boot (3), like iproute2. */
  protocol?: number;
  /** Needed only for a "default" route with neither gw nor src; default 4. */
  family?: 4 | 6;
}

/** A route as the kernel reports it. */
export interface Route {
  family: 4 | 6;
  /** "default" or "prefix/len". */
  dst: string;
  gw?: string;
  /** ifindex of the outgoing link. */
  oifIndex?: number;
  /** Name of the outgoing link, filled in by Handle.routeList. */
  dev?: string;
  scope: Scope;
  table: number;
  protocol: number;
  /** RTN_* type: 1 unicast, 2 local, 3 broadcast, ... */
  type: number;
  metric?: number;
  src?: string;
}

/** Which message a route operation sends. */
export type RouteOp = "add" | "replace" | "del";

function familyOf(spec: RouteSpec, dst: Cidr | undefined): 4 | 6 {
  const fams = new Set<number>();
  if (dst) fams.add(dst.family);
  if (spec.gw) fams.add(parseIp(spec.gw).family);
  if (spec.src) fams.add(parseIp(spec.src).family);
  if (fams.size > 1) throw new TypeError(`route mixes IPv4 and IPv6: ${describeRoute(spec)}`);
  return (fams.values().next().value as 4 | 6 | undefined) ?? spec.family ?? 4;
}

/** Words for error messages: "default via 10.0.0.1 dev eth0". */
export function describeRoute(spec: RouteSpec): string {
  let s = spec.dst ?? "default";
  if (spec.gw) s += ` via ${spec.gw}`;
  if (spec.dev !== undefined) s += ` dev ${spec.dev}`;
  if (spec.table !== undefined) s += ` table ${spec.table}`;
  return s;
}

/**
 * The RTM_NEWROUTE/RTM_DELROUTE message for `spec`.
 *
 * @param oif the outgoing link's ifindex, resolved by the caller from spec.dev
 */
export function routeMsg(op: RouteOp, spec: RouteSpec, oif?: number): MessageBuilder {
  const dst = spec.dst === undefined || spec.dst === "default" ? undefined : parseCidr(spec.dst);
  const family = familyOf(spec, dst);
  const flags = op === "add"
    ? NLM_F_CREATE | NLM_F_EXCL
    : op === "replace"
    ? NLM_F_CREATE | NLM_F_REPLACE
    : 0;
  const b = new MessageBuilder(op === "del" ? RTM_DELROUTE : RTM_NEWROUTE, flags);
  const table = spec.table ?? RT_TABLE_MAIN;
  // iproute2's defaults: a delete matches any scope and protocol; an IPv4 route without a
  // gateway is on-link.
  let scope: number;
  if (spec.scope !== undefined) scope = scopeNumber(spec.scope);
  else if (op === "del") scope = RT_SCOPE_NOWHERE;
  else scope = family === 4 && !spec.gw ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const head = new Uint8Array(RTMSG_LEN);
  head[0] = afOf(family);
  head[1] = dst?.prefixLen ?? 0;
  head[4] = table < 256 ? table : 0;
  head[5] = op === "del" ? (spec.protocol ?? 0) : (spec.protocol ?? RTPROT_BOOT);
  head[6] = scope;
  head[7] = op === "del" ? 0 : RTN_UNICAST;
  b.bytes(head);
  if (dst) b.attr(RTA_DST, dst.bytes);
  if (spec.gw) b.attr(RTA_GATEWAY, parseIp(spec.gw).bytes);
  if (oif !== undefined) b.u32(RTA_OIF, oif);
  if (spec.metric !== undefined) b.u32(RTA_PRIORITY, spec.metric);
  if (spec.src) b.attr(RTA_PREFSRC, parseIp(spec.src).bytes);
  b.u32(RTA_TABLE, table);
  return b;
}

/** The RTM_GETROUTE dump for one family or both. */
export function routeDumpMsg(family?: 4 | 6): MessageBuilder {
  return familyDumpMsg(RTM_GETROUTE, RTMSG_LEN, family);
}

/** Decodes an RTM_NEWROUTE message; undefined for families other than IPv4/IPv6. */
export function parseRoute(m: NlMessage): Route | undefined {
  const family = familyOfAf(m.data[0]);
  if (!family) return undefined;
  const a = parseAttrs(m.data, RTMSG_LEN);
  const dstLen = m.data[1];
  const dstRaw = a.get(RTA_DST);
  const route: Route = {
    family,
    dst: dstRaw ? `${formatIp(dstRaw)}/${dstLen}` : "default",
    scope: scopeName(m.data[6]),
    table: getU32(a.get(RTA_TABLE)) ?? m.data[4],
    protocol: m.data[5],
    type: m.data[7],
  };
  const gw = a.get(RTA_GATEWAY);
  if (gw) route.gw = formatIp(gw);
  const oif = getU32(a.get(RTA_OIF));
  if (oif !== undefined) route.oifIndex = oif;
  const metric = getU32(a.get(RTA_PRIORITY));
  if (metric !== undefined) route.metric = metric;
  const src = a.get(RTA_PREFSRC);
  if (src) route.src = formatIp(src);
  return route;
}

/** The rtmsg flags of a route message (RTM_F_CLONED marks cache entries). */
export function routeFlags(m: NlMessage): number {
  return dv(m.data).getUint32(8, true);
}
