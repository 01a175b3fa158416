/**
 * `ratchet demo`: a two-node lab from the embedded topology, driven through the real plugins
 * exactly as a runtime drives them (VERSION, then ADD, later DEL, each a process with the CNI
 * environment), using the embedded file store. It prints a table of pods, interfaces, addresses
 * and pings, then tears everything down (also on Ctrl-C) unless --keep; `demo down` removes a kept lab.
 */
import { parseCommand, runCommand, table, UsageError } from "../cli.ts";
import type { LabState } from "./lab.ts";

/** Runs `ratchet demo [--keep] | ratchet demo down`; the exit code. */
export function demo(args: string[]): Promise<number> {
  const usage = "ratchet demo [--keep] | ratchet demo down";
  return runCommand(() => {
    // Parsed strictly: a mistyped flag must not build a lab.
    const { values, positionals: [verb] } = parseCommand(args, usage, { keep: { type: "boolean" } }, [0, 1]);
    if (verb === undefined) return up(values.keep === true);
    if (verb !== "down") throw new UsageError(usage, `unknown demo command ${JSON.stringify(verb)}`);
    if (values.keep) throw new UsageError(usage, "--keep is for building a lab, not for taking it down");
    return down();
  });
}

interface DemoPod {
  name: string;
  node: string;
  plugin: "ratchet" | "octopus";
  /** For octopus pods: the LAN, given as anchor's subnet annotation through the config's args. */
  subnet?: string;
  /** Where the demo pings from this pod, and why. */
  ping?: { target: string; via: string } | { peer: string; via: string };
}

/** The octopus pods on the two LANs; the ratchet pods come from the embedded topology. */
const LAN_PODS: DemoPod[] = [
  {
    name: "web-1",
    node: "node01",
    plugin: "octopus",
    subnet: "10.0.2.0/24",
    ping: { peer: "web-2", via: "macvlan, LAN 2 across nodes" },
  },
  {
    name: "web-2",
    node: "node02",
    plugin: "octopus",
    subnet: "10.0.2.0/24",
    ping: { target: "10.0.2.1", via: "macvlan to LAN 2's gateway" },
  },
  {
    name: "db-1",
    node: "node01",
    plugin: "octopus",
    subnet: "10.0.3.0/24",
    ping: { target: "10.0.3.1", via: "macvlan to LAN 3's gateway" },
  },
];

const PINGS: Record<string, DemoPod["ping"]> = {
  "primary-pod": { target: "192.168.2.101", via: "veth on node01" },
  "left-pod": { target: "192.168.3.2", via: "vxlan node01 -> node02" },
  "right-pod": { target: "192.168.3.1", via: "vxlan node02 -> node01" },
  "lone-pod": { target: "10.244.2.1", via: "delegate bridge on node02" },
};

function say(line: string): void {
  console.log(line);
}

async function up(keep: boolean): Promise<number> {
  const lab = await import("./lab.ts");
  await preflight(lab.run);
  if (await exists(lab.STATE_FILE)) {
    console.error("a demo lab is up already; remove it with `deno task demo down` (or `ratchet demo down`)");
    return 1;
  }
  const state: LabState = { prefix: "demo-", namespaces: [], dir: lab.STATE_DIR, pods: [] };
  await Deno.mkdir(`${state.dir}/bin`, { recursive: true });
  await Deno.writeTextFile(lab.STATE_FILE, JSON.stringify(state));
  const save = () => Deno.writeTextFile(lab.STATE_FILE, JSON.stringify(state, null, 2));
  // One teardown, however many times it is asked for: a Ctrl-C during it waits for it to finish.
  let tornDown: Promise<void> | undefined;
  const teardown = () =>
    tornDown ??= (async () => {
      say("tearing the lab down: DEL every pod, then remove the namespaces");
      await deletePods(state);
      await lab.destroyLab(state);
    })();
  const onInterrupt = () => {
    say("\ninterrupted");
    teardown().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);
  try {
    say("1/5 building two nodes and their LANs in network namespaces (nothing on the host)");
    const nodeNs = await lab.buildNodes(state);
    await save();

    say("2/5 applying the embedded topology to the embedded store");
    const pods = await applyTopology(state.dir);
    const binDir = await writeBinDir(`${state.dir}/bin`);

    say("3/5 adding pods through the plugins, as a runtime does (VERSION, then ADD)");
    for (const pod of [...pods, ...LAN_PODS]) {
      if (tornDown) return await tornDown.then(() => 130); // Ctrl-C: the teardown under way owns the lab now
      const ns = `${state.prefix}pod-${pod.name}`;
      (await lab.addNamespace(state, ns)).close();
      const record = {
        name: pod.name,
        node: nodeNs[pod.node],
        plugin: pod.plugin,
        containerId: `demo${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`,
        conf: pod.plugin === "ratchet"
          ? ratchetConf(state.dir, pod.node)
          : octopusConf(state.dir, pod.node, pod.subnet!),
        cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name}`,
      };
      state.pods.push(record);
      await save();
      const started = performance.now();
      const result = await cni(record, "ADD", binDir, lab.nsPath(ns));
      const ips = (result?.ips ?? []).map((ip) => ip.address).join(" ");
      say(
        `    ${pod.name.padEnd(12)} on ${pod.node} via ${pod.plugin.padEnd(8)} ${ips || "(no address)"}  ${
          Math.round(performance.now() - started)
        } ms`,
      );
    }

    if (tornDown) return await tornDown.then(() => 130);
    say(
      "4/5 waiting for late links (the node's waiter, ratchet-child, finishes the side whose peer came later), then pinging",
    );
    const rows: string[][] = [];
    let failures = 0;
    const addressOf = new Map<string, string>();
    for (const pod of state.pods) {
      addressOf.set(pod.name, lab.firstAddress(`${state.prefix}pod-${pod.name}`, "eth0"));
    }
    for (const pod of [...pods, ...LAN_PODS]) {
      const ns = `${state.prefix}pod-${pod.name}`;
      const ping = pod.ping;
      const target = ping ? ("peer" in ping ? addressOf.get(ping.peer) ?? "" : ping.target) : "";
      const ok = target ? await pingFrom(ns, target) : undefined;
      if (ok === false) failures++;
      rows.push([
        pod.name,
        pod.node,
        pod.plugin,
        lab.interfacesOf(ns),
        target ? `${target} (${ping!.via})` : "",
        ok === undefined ? "" : ok ? "ok" : "FAILED",
      ]);
    }
    say("");
    say(table(["pod", "node", "plugin", "interfaces", "ping", "result"], rows, { rule: true, empty: "" }));
    say("");
    if (keep) {
      await save();
      say(
        `5/5 kept: explore with \`ip netns exec ${state.prefix}pod-primary-pod ip addr\`; remove with \`deno task demo down\``,
      );
    } else {
      say("5/5 done");
      await teardown();
    }
    return failures ? 1 : 0;
  } catch (e) {
    if (tornDown) return await tornDown.then(() => 130);
    console.error(`demo failed: ${(e as Error).message}`);
    await teardown();
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
}

async function down(): Promise<number> {
  const lab = await import("./lab.ts");
  let state: LabState;
  try {
    state = JSON.parse(await Deno.readTextFile(lab.STATE_FILE));
  } catch {
    console.log("no demo lab is up");
    return 0;
  }
  await deletePods(state);
  await lab.destroyLab(state);
  console.log(`removed ${state.namespaces.length} namespaces and ${state.dir}`);
  return 0;
}

/** The tools the lab stands on: root, iproute2, and Debian's reference plugins for the delegate. */
async function preflight(run: (cmd: string, ...args: string[]) => Promise<string>): Promise<void> {
  if (Deno.uid() !== 0) throw new Error("the demo makes network namespaces, so it must run as root");
  const missing = [];
  if (!(await exists("/usr/bin/ip")) && !(await exists("/usr/sbin/ip")) && !(await exists("/sbin/ip"))) {
    missing.push("iproute2");
  }
  if (!(await exists("/usr/lib/cni/bridge"))) missing.push("containernetworking-plugins");
  if (!(await exists("/usr/bin/ping"))) missing.push("iputils-ping");
  if (missing.length) {
    say(`installing ${missing.join(", ")} from Debian`);
    await run("apt-get", "update", "-qq");
    await run("apt-get", "install", "-y", "-qq", ...missing);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Writes the embedded topology into the lab's file store; returns its pods with their nodes. */
async function applyTopology(dir: string): Promise<DemoPod[]> {
  const [{ DEFAULT_TOPOLOGY, lintTopology }, { applyTopology }, { openStore }] = await Promise.all([
    import("../../dsl/mod.ts"),
    import("../../dsl/apply.ts"),
    import("../store/mod.ts"),
  ]);
  const { topology } = lintTopology(DEFAULT_TOPOLOGY, "@default");
  const store = await openStore({ kind: "file", dir: `${dir}/store` });
  try {
    await applyTopology(topology, store, { prune: false });
  } finally {
    await store.close();
  }
  return topology.pods.map((p) => ({
    name: p.name,
    node: p.node,
    plugin: "ratchet" as const,
    ping: PINGS[p.name],
  }));
}

/**
 * The plugin names a runtime would find in CNI_PATH: the compiled binary symlinked under each
 * role, or, in a checkout, the development launchers.
 */
async function writeBinDir(dir: string): Promise<string> {
  const [{ ROLE_NAMES }, { writeLaunchers }] = await Promise.all([
    import("../role.ts"),
    import("../install/launchers.ts"),
  ]);
  const self = Deno.execPath();
  if (self.endsWith("/deno")) return writeLaunchers(dir, self);
  for (const name of ROLE_NAMES) await Deno.symlink(self, `${dir}/${name}`).catch(() => {});
  return dir;
}

function ratchetConf(dir: string, node: string): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "demo",
    type: "ratchet",
    store: `${dir}/store`,
    kubernetes: { node_name: node },
    child_timeout_s: 30,
    log_file: `${dir}/plugins.log`,
    boot_network: { type: "loopback" },
    delegate: {
      type: "bridge",
      bridge: "cni0",
      isGateway: true,
      ipam: {
        type: "host-local",
        subnet: node === "node01" ? "10.244.1.0/24" : "10.244.2.0/24",
        dataDir: `${dir}/host-local`,
      },
    },
  };
}

function octopusConf(dir: string, node: string, subnet: string): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "lan",
    type: "octopus",
    octopus: { "10.0.2.0/24": "eth0.2", "10.0.3.0/24": "eth0.3" },
    log_file: `${dir}/plugins.log`,
    args: { cni: { "cni.anchor.org/subnet": subnet } },
    ipam: { type: "anchor", store: `${dir}/store`, kubernetes: { node_name: node } },
  };
}

/** One CNI call of a lab pod's plugin, run inside its node's namespace. */
async function cni(pod: LabState["pods"][number], command: "ADD" | "DEL", binDir: string, netns: string) {
  const { execPlugin, parseCniArgs, supportedVersions } = await import("../cni/mod.ts");
  const conf = pod.conf as Record<string, unknown> & { cniVersion: string };
  const env = {
    command,
    containerId: pod.containerId,
    netns,
    ifname: "eth0",
    args: parseCniArgs(pod.cniArgs),
    path: [binDir, "/usr/lib/cni"],
  };
  const wrapper = ["ip", "netns", "exec", pod.node];
  // libcni's probe: the plugin must list the config's version before it is given the config.
  if (!(await supportedVersions({ conf, env, wrapper })).includes(conf.cniVersion)) {
    throw new Error(`${pod.plugin} does not speak CNI ${conf.cniVersion}`);
  }
  return await execPlugin({ conf, command, env, wrapper });
}

async function deletePods(state: LabState): Promise<void> {
  const binDir = `${state.dir}/bin`;
  for (const pod of [...state.pods].reverse()) {
    try {
      await cni(pod, "DEL", binDir, `/run/netns/${state.prefix}pod-${pod.name}`);
    } catch (e) {
      console.error(`    DEL ${pod.name}: ${(e as Error).message}`);
    }
  }
}

/**
 * Pings until it answers or 15 s pass: a late link needs the node's waiter to finish it, and until then
 * ping fails at once (no route), so the attempts are spaced out.
 */
async function pingFrom(ns: string, target: string): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", ns, "ping", "-c1", "-W1", target],
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.success) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
