/** `anchor gw set SUBNET GATEWAY` and `anchor gw ls`. */
import { formatCidr, formatIp } from "../../ip/mod.ts";
import { checkGateway, checkSubnet, GATEWAY_PREFIX, gatewayKey } from "../../ipam/mod.ts";
import { parseCommand, print, STORE_FLAGS, subcommands, withFlagStore } from "../../cli.ts";

const USAGE = "anchor gw set SUBNET GATEWAY | anchor gw ls [--json] [STORE FLAGS]";

/** Stores a gateway under the subnet's canonical key, after the checks ADD makes. */
async function set(args: string[]): Promise<number> {
  const { values, positionals: [subnetText, gatewayText] } = parseCommand(args, USAGE, STORE_FLAGS, 2);
  const subnet = checkSubnet(subnetText, "subnet");
  const gateway = formatIp(checkGateway(gatewayText, subnet, "gateway"));
  await withFlagStore(values, (store) => store.put(gatewayKey(formatCidr(subnet)), gateway));
  console.log(`gateway of ${formatCidr(subnet)}: ${gateway}`);
  return 0;
}

async function list(args: string[]): Promise<number> {
  const { values } = parseCommand(args, USAGE, { ...STORE_FLAGS, json: { type: "boolean" } }, 0);
  const kvs = await withFlagStore(values, (store) => store.list(GATEWAY_PREFIX));
  const gateways = kvs.map((kv) => ({ subnet: kv.key.slice(GATEWAY_PREFIX.length), gateway: kv.value }));
  print(values.json === true, gateways, ["SUBNET", "GATEWAY"], gateways.map((g) => [g.subnet, g.gateway]));
  return 0;
}

/** `gw set` and `gw ls`. */
export const gw = subcommands("anchor gw", USAGE, { set, ls: list });
