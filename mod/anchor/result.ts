/** The IPAM result of ADD: one address, routes in the original's order, and the config's DNS. */
import type { Result, Route } from "../cni/result.ts";
import { contains, formatCidr } from "../ip/cidr.ts";
import { formatIp } from "../ip/addr.ts";
import type { Allocation } from "../ipam/allocate.ts";
import type { PodNetwork } from "./annotations.ts";
import type { AnchorConf } from "./config.ts";

/**
 * Routes: the default route via the gateway, then the annotation's routes, then `service_ipnet` via
 * the first of `node_ips` inside the pod's subnet (so service traffic leaves through this node, not
 * the subnet's router). No interfaces: the main plugin owns those.
 */
export function ipamResult(cniVersion: string, a: Allocation, net: PodNetwork, conf: AnchorConf): Result {
  const gateway = formatIp(a.gateway);
  const routes: Route[] = [{ dst: a.subnet.family === 4 ? "0.0.0.0/0" : "::/0", gw: gateway }, ...net.routes];
  const service = conf.serviceIpnet;
  if (service && service.family === a.subnet.family) {
    const via = conf.nodeIps.find((ip) => contains(a.subnet, ip));
    if (via) routes.push({ dst: formatCidr(service), gw: formatIp(via) });
  }
  const result: Result = {
    cniVersion,
    ips: [{ address: `${a.record.ip}/${a.subnet.prefix}`, gateway }],
    routes,
  };
  if (conf.dns) result.dns = conf.dns;
  return result;
}
