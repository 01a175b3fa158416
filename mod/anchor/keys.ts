/**
 * The `cni.anchor.org/*` pod annotation keys, in a module of their own so that octopus can name the
 * subnet key without loading anchor's parsers.
 */
import { CONFIG_KEY_PREFIX } from "../kube/lookup.ts";

/** The prefix of every pod annotation anchor reads; a network config may set these keys too. */
export const ANNOTATION_PREFIX = CONFIG_KEY_PREFIX;
/** The pod's subnet (anchor) and so its LAN and master (octopus). Required by anchor. */
export const SUBNET_ANNOTATION = `${ANNOTATION_PREFIX}subnet`;
/** Overrides the store's gateway for the subnet. */
export const GATEWAY_ANNOTATION = `${ANNOTATION_PREFIX}gateway`;
/** Extra routes, "dst,gw;dst,gw". */
export const ROUTES_ANNOTATION = `${ANNOTATION_PREFIX}routes`;
