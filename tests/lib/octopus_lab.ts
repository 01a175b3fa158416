/**
 * A simulated node with several LANs, for octopus and the installer: the node is a namespace whose
 * masters (eth0.2, eth0.3) are veth ends; the other end of each sits in a "LAN" namespace holding
 * that LAN's gateway address. Pods are further namespaces. Nothing is made on the host.
 */
import { ipJson, nsExec, sh, TempNetns } from "./netns.ts";
import { runPlugin } from "./plugin.ts";

/** One LAN of the lab: the subnet, its gateway (in the LAN namespace) and the node's master on it. */
export interface LabLan {
  subnet: string;
  gateway: string;
  master: string;
  /** The LAN namespace (the switch and gateway). */
  ns: string;
}

/** The lab's LANs: 10.0.1.0/24 on eth0.2 and 10.0.2.0/24 on eth0.3, as in the example. */
export const LANS = [
  { subnet: "10.0.1.0/24", gateway: "10.0.1.1", master: "eth0.2" },
  { subnet: "10.0.2.0/24", gateway: "10.0.2.1", master: "eth0.3" },
] as const;

/** A node with its LANs and pods, all namespaces, removed by cleanup(). */
export class OctopusLab implements AsyncDisposable {
  private constructor(
    private readonly spaces: TempNetns,
    readonly node: string,
    readonly lans: LabLan[],
    readonly pods: string[],
    readonly tmp: string,
  ) {}

  /** Builds the node, both LANs (masters up, gateways addressed) and `pods` pod namespaces. */
  static async create(pods = 2): Promise<OctopusLab> {
    const labels = ["node", "lan2", "lan3", ...Array.from({ length: pods }, (_, i) => `pod${i}`)];
    const spaces = await TempNetns.create(labels);
    const tmp = Deno.makeTempDirSync({ prefix: "octopus-lab-" });
    const lab = new OctopusLab(spaces, spaces.name(0), [], spaces.names.slice(3), tmp);
    try {
      for (const [i, l] of LANS.entries()) {
        const lan = spaces.name(1 + i);
        await sh(
          "ip",
          "-n",
          lab.node,
          "link",
          "add",
          l.master,
          "type",
          "veth",
          "peer",
          "name",
          "sw",
          "netns",
          lan,
        );
        await sh("ip", "-n", lan, "addr", "add", `${l.gateway}/24`, "dev", "sw");
        await sh("ip", "-n", lan, "link", "set", "sw", "up");
        await sh("ip", "-n", lab.node, "link", "set", l.master, "up");
        lab.lans.push({ ...l, ns: lan });
      }
      return lab;
    } catch (e) {
      await lab.cleanup();
      throw e;
    }
  }

  /** The /run/netns path of pod `i`. */
  podPath(i: number): string {
    return `/run/netns/${this.pods[i]}`;
  }

  /** The ifindex of a link in the node namespace. */
  async nodeIfindex(name: string): Promise<number> {
    const [link] = await ipJson(this.node, "link", "show", name);
    return link.ifindex;
  }

  /** Runs octopus inside the node namespace, as a runtime on that node would. */
  octopus(
    command: string,
    pod: number,
    conf: unknown,
    extra: { ifname?: string; cniArgs?: string; containerId?: string; noNetns?: boolean } = {},
  ) {
    return runPlugin("octopus", {
      command,
      containerId: extra.containerId ?? `ctr-${this.pods[pod]}`,
      netns: extra.noNetns ? undefined : this.podPath(pod),
      ifname: extra.ifname ?? "eth0",
      cniArgs: extra.cniArgs,
      conf,
      node: this.node,
    });
  }

  /** Deletes every namespace and the temp directory. */
  async cleanup(): Promise<void> {
    try {
      await this.spaces.cleanup();
    } finally {
      Deno.removeSync(this.tmp, { recursive: true });
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
  }
}

/** A host-local IPAM block for a lab LAN with its own data dir, handing out .10 to .20. */
export function hostLocal(lab: OctopusLab, subnet: string, gateway: string): Record<string, unknown> {
  const base = subnet.split("/")[0].split(".").slice(0, 3).join(".");
  return {
    type: "host-local",
    ranges: [[{ subnet, rangeStart: `${base}.10`, rangeEnd: `${base}.20`, gateway }]],
    routes: [{ dst: "0.0.0.0/0" }],
    dataDir: `${lab.tmp}/host-local`,
  };
}

/** The addresses host-local holds for a network: the files named after addresses in its data dir. */
export function hostLocalAllocations(lab: OctopusLab, network: string): string[] {
  try {
    return [...Deno.readDirSync(`${lab.tmp}/host-local/${network}`)]
      .map((e) => e.name)
      .filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n))
      .sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/**
 * Whether `ns` reaches `ip`: one ICMP echo with ping, or when ping is not installed a TCP connect
 * to a listener started in `target` (so the check never depends on an optional package).
 */
export async function reaches(ns: string, ip: string, target?: string): Promise<boolean> {
  if (await hasPing()) {
    try {
      await nsExec(ns, "ping", "-c1", "-W2", ip);
      return true;
    } catch {
      return false;
    }
  }
  if (!target) throw new Error("reaches(): ping is not installed; name the target namespace for a TCP probe");
  return await tcpProbe(ns, ip, target);
}

let pingAvailable: boolean | undefined;

async function hasPing(): Promise<boolean> {
  if (pingAvailable === undefined) {
    try {
      await sh("ping", "-V");
      pingAvailable = true;
    } catch {
      pingAvailable = false;
    }
  }
  return pingAvailable;
}

async function tcpProbe(ns: string, ip: string, target: string): Promise<boolean> {
  const port = 40000 + Math.floor(Math.random() * 20000);
  const server = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      target,
      Deno.execPath(),
      "eval",
      `const l = Deno.listen({hostname: "${ip}", port: ${port}}); console.log("ready"); const c = await l.accept(); c.close(); l.close();`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = server.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  try {
    await nsExec(
      ns,
      Deno.execPath(),
      "eval",
      `const c = await Deno.connect({hostname: "${ip}", port: ${port}}); c.close();`,
    );
    return true;
  } catch {
    return false;
  } finally {
    try {
      server.kill();
    } catch { /* it exited after the accept */ }
    await server.status;
    await server.stdout.cancel().catch(() => {});
  }
}
