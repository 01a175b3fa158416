/**
 * The pod annotations that place a pod: `cni.anchor.org/subnet` (required, as in the original),
 * `cni.anchor.org/gateway` (overrides the store's gateway; the original parsed the subnet here by
 * mistake, so it never worked) and `cni.anchor.org/routes` ("dst,gw;dst,gw").
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Route } from "../cni/result.ts";
import { type Cidr, formatCidr, networkOf, parseCidrOrReason } from "../ip/cidr.ts";
import { formatIp, type IpAddr, parseIpOrReason } from "../ip/addr.ts";
import { checkGateway, checkSubnet } from "../ipam/subnet.ts";
import { GATEWAY_ANNOTATION, ROUTES_ANNOTATION, SUBNET_ANNOTATION } from "./keys.ts";
import type { PodInfo } from "./pod.ts";

export { GATEWAY_ANNOTATION, ROUTES_ANNOTATION, SUBNET_ANNOTATION };

/** Where the pod goes, read from its annotations. */
export interface PodNetwork {
  subnet: Cidr;
  /** The annotation's gateway; absent means the store's `/anchor/gw/<subnet>`. */
  gateway?: IpAddr;
  /** The annotation's routes, in order. */
  routes: Route[];
}

/**
 * Reads and checks the annotations before anything is allocated, so a bad one never leaves an
 * allocation behind. A missing subnet is code 7: the input that places the pod is missing, as a
 * required config field would be.
 * @throws CniError 7, or SubnetError / GatewayError (code 7) naming the annotation.
 */
export function podNetwork(pod: PodInfo): PodNetwork {
  const subnetText = pod.meta[SUBNET_ANNOTATION];
  if (subnetText === undefined || subnetText.trim() === "") {
    const who = pod.name ? `pod ${pod.namespace}/${pod.name}` : `the pod (namespace ${pod.namespace})`;
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `${who} has no annotation ${SUBNET_ANNOTATION}`,
      "anchor needs it to pick the pod's subnet; set it on the pod, or in the network config's args.cni or runtimeConfig",
    );
  }
  const subnet = checkSubnet(subnetText, `annotation ${SUBNET_ANNOTATION}`);
  const net: PodNetwork = { subnet, routes: parseRoutes(pod.meta[ROUTES_ANNOTATION] ?? "") };
  const gw = pod.meta[GATEWAY_ANNOTATION];
  if (gw !== undefined && gw.trim() !== "") {
    net.gateway = checkGateway(gw, subnet, `annotation ${GATEWAY_ANNOTATION}`);
  }
  return net;
}

/** "10.88.0.0/16,10.0.1.5;10.99.1.0/24,10.0.1.7" as routes; empty items (a trailing ';') are allowed. */
export function parseRoutes(text: string): Route[] {
  const routes: Route[] = [];
  for (const raw of text.split(";")) {
    const item = raw.trim();
    if (item === "") continue;
    const bad = (why: string) =>
      new CniError(
        ErrorCode.InvalidNetworkConfig,
        `annotation ${ROUTES_ANNOTATION} item ${JSON.stringify(item)}: ${why}`,
        'expected "dst/prefix,gateway;..."',
      );
    const parts = item.split(",").map((s) => s.trim());
    if (parts.length !== 2) throw bad("expected a destination and a gateway separated by a comma");
    const dst = parseCidrOrReason(parts[0]);
    if (typeof dst === "string") throw bad(`destination: ${dst}`);
    const gw = parseIpOrReason(parts[1]);
    if (typeof gw === "string") throw bad(`gateway: ${gw}`);
    if (gw.family !== dst.family) {
      throw bad("the destination and the gateway are of different address families");
    }
    routes.push({ dst: formatCidr(networkOf(dst)), gw: formatIp(gw) });
  }
  return routes;
}
