/**
 * Two simulated nodes for ratchet: node namespaces joined by a veth underlay (eth0 at
 * 192.168.1.224/24 and .225/24, only inside the namespaces), pods as further namespaces, and the
 * store the plugins share: a file store directory, or a test etcd reached from inside each node
 * through a loopback forwarder (the node's 127.0.0.1 is not the host's). Nothing is made on the host.
 */
import assert from "node:assert/strict";
import { withNetns } from "../../mod/netlink/mod.ts";
import { openStore, type Store } from "../../mod/store/mod.ts";
import { startEtcd, type TestEtcd } from "./etcd.ts";
import { ipJson, nsExec, nsPath, sh, TempNetns } from "./netns.ts";
import { type PluginReply, runPlugin } from "./plugin.ts";

/** The underlay addresses of node1 and node2, as in the original's sample config. */
export const NODE_ADDRESSES = ["192.168.1.224", "192.168.1.225"];

/** A simulated node. */
export interface LabNode {
  /** Its Kubernetes-style name, given to the plugin as kubernetes.node_name. */
  name: string;
  ns: string;
  address: string;
}

/** A pod: its namespace and the container id the runtime would use. */
export interface LabPod {
  name: string;
  namespace: string;
  ns: string;
  path: string;
  containerId: string;
}

/** Where the lab's store is: a directory, or an etcd endpoint on the host's loopback. */
export type LabStore = { dir: string } | { etcd: string };

/**
 * The labels of a primary pod in the original's scheme: its `in1` linked to `pair`'s `in2`, with
 * `<net>.1` and `<net>.2` as the ends' addresses (the prefix defaults to 24) when `net` is given,
 * and `extra` labels on top. The pair itself carries only `ratchet: "true"`.
 */
export function linkLabels(
  pair: LabPod,
  net?: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ratchet: "true",
    "ratchet.local_ifname": "in1",
    "ratchet.pair_name": pair.name,
    "ratchet.pair_ifname": "in2",
    "ratchet.primary": "true",
    ...(net === undefined ? {} : { "ratchet.local_ip": `${net}.1`, "ratchet.pair_ip": `${net}.2` }),
    ...extra,
  };
}

/**
 * The informative labels the original's sample pods carry besides the link's (README, "pod labels"):
 * `ratchet.pod_name` (here the pod's own name, its default), `ratchet.target_pod`,
 * `ratchet.target_container` and `ratchet.public_ip` (1.1.1.1), which ratchet keeps in the pod's
 * registration.
 */
export function sampleLabels(self: LabPod): Record<string, string> {
  return {
    "ratchet.pod_name": self.name,
    "ratchet.target_pod": self.name,
    "ratchet.target_container": self.name,
    "ratchet.public_ip": "1.1.1.1",
  };
}

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** Forwards 127.0.0.1:port inside `nsName` to the host's 127.0.0.1:port. */
function forward(nsName: string, port: number): Deno.Listener {
  // Created while the thread is inside the node's namespace, the socket stays there.
  const listener = withNetns(nsPath(nsName), () => Deno.listen({ hostname: "127.0.0.1", port }));
  (async () => {
    for await (const conn of listener) {
      (async () => {
        let up: Deno.Conn | undefined;
        try {
          up = await Deno.connect({ hostname: "127.0.0.1", port });
          await Promise.all([
            conn.readable.pipeTo(up.writable).catch(() => {}),
            up.readable.pipeTo(conn.writable).catch(() => {}),
          ]);
        } catch {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })();
    }
  })().catch(() => {});
  return listener;
}

/** Two nodes, their pods, the shared store and the plugin calls, all removed by cleanup(). */
export class RatchetLab implements AsyncDisposable {
  readonly nodes: LabNode[] = [];
  readonly pods: LabPod[] = [];
  /** Every container id the lab ever used, re-created pods' old ones too. */
  readonly containerIds = new Set<string>();
  readonly logFile: string;
  #spaces: TempNetns[] = [];
  #listeners: Deno.Listener[] = [];
  #store?: Store;

  private constructor(readonly storeAt: LabStore, readonly tmp: string, readonly prefix: string) {
    this.logFile = `${tmp}/ratchet.log`;
  }

  /**
   * Builds the nodes (underlay up and addressed) and opens the test's own store client.
   * With etcd, every node gets a forwarder to it, and the lab's keys are deleted at cleanup.
   */
  static async create(store: "file" | { etcd: string }, nodes = 2): Promise<RatchetLab> {
    const tmp = Deno.makeTempDirSync({ prefix: "ratchet-lab-" });
    const at: LabStore = store === "file" ? { dir: `${tmp}/store` } : store;
    const lab = new RatchetLab(at, tmp, randomId().slice(0, 6));
    try {
      const spaces = await TempNetns.create(Array.from({ length: nodes }, (_, i) => `node${i + 1}`));
      lab.#spaces.push(spaces);
      for (let i = 0; i < nodes; i++) {
        lab.nodes.push({
          name: `node${i + 1}-${lab.prefix}`,
          ns: spaces.name(i),
          address: NODE_ADDRESSES[i],
        });
      }
      if (nodes >= 2) {
        await sh(
          "ip",
          "-n",
          spaces.name(0),
          "link",
          "add",
          "eth0",
          "type",
          "veth",
          "peer",
          "name",
          "eth0",
          "netns",
          spaces.name(1),
        );
        for (const n of lab.nodes.slice(0, 2)) {
          await sh("ip", "-n", n.ns, "addr", "add", `${n.address}/24`, "dev", "eth0");
          await sh("ip", "-n", n.ns, "link", "set", "eth0", "up");
        }
      }
      if ("etcd" in at) lab.forward(Number(new URL(at.etcd).port));
      lab.#store = await openStore(
        "dir" in at ? { kind: "file", dir: at.dir } : { kind: "etcd", endpoints: [at.etcd], timeoutMs: 5000 },
      );
      return lab;
    } catch (e) {
      await lab.cleanup();
      throw e;
    }
  }

  /** Makes the host's 127.0.0.1:port reachable at 127.0.0.1:port inside every node (etcd, a Kubernetes API). */
  forward(port: number): void {
    for (const n of this.nodes) this.#listeners.push(forward(n.ns, port));
  }

  /** The test's own client on the lab's store. */
  get store(): Store {
    return this.#store!;
  }

  /** The store fields of a ratchet config pointing at the lab's store. */
  storeFields(): Record<string, unknown> {
    // A generous etcd timeout: the machine is shared, and a slow answer is not what these tests test.
    return "dir" in this.storeAt
      ? { store: this.storeAt.dir }
      : { etcd_endpoints: this.storeAt.etcd, etcd_timeout_ms: 10_000 };
  }

  /** A ratchet config for `node`: loopback boot network, Debian's bridge as the delegate. */
  conf(node: LabNode, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: "1.0.0",
      name: "ratchet-lab",
      type: "ratchet",
      ...this.storeFields(),
      parent_interface: "eth0",
      parent_address: node.address,
      kubernetes: { node_name: node.name },
      child_timeout_s: 30,
      waiter_idle_s: 2,
      log_file: this.logFile,
      log_level: "debug",
      delegate: {
        type: "bridge",
        bridge: "cni-rt0",
        isGateway: true,
        ipam: { type: "host-local", subnet: "10.99.0.0/24", dataDir: `${this.tmp}/host-local` },
      },
      boot_network: { type: "loopback" },
      ...extra,
    };
  }

  /** Makes pod namespaces; pod names carry the lab's prefix so runs never share keys. */
  async addPods(names: string[], namespace = "default"): Promise<LabPod[]> {
    const spaces = await TempNetns.create(names);
    this.#spaces.push(spaces);
    const made = names.map((name, i) => ({
      name: `${name}-${this.prefix}`,
      namespace,
      ns: spaces.name(i),
      path: spaces.path(i),
      containerId: randomId(),
    }));
    this.pods.push(...made);
    for (const p of made) this.containerIds.add(p.containerId);
    return made;
  }

  /** A new namespace and container id for a pod (the runtime re-creating it); the old namespace is deleted. */
  async recreate(pod: LabPod): Promise<void> {
    const spaces = await TempNetns.create([pod.name.slice(0, 12)]);
    this.#spaces.push(spaces);
    await sh("ip", "netns", "del", pod.ns);
    pod.ns = spaces.name(0);
    pod.path = spaces.path(0);
    pod.containerId = randomId();
    this.containerIds.add(pod.containerId);
  }

  /** Writes the pod's labels/annotations where `ratchet apply` would: /ratchet/pods/<ns>/<pod>. */
  async setPodMeta(
    pod: LabPod,
    node: LabNode,
    labels: Record<string, string>,
    annotations: Record<string, string> = {},
  ) {
    await this.store.put(
      `/ratchet/pods/${pod.namespace}/${pod.name}`,
      JSON.stringify({ node: node.name, labels, annotations }),
    );
  }

  /**
   * Two new pods linked in the original's scheme: `a` on `nodeA` is the primary, labelled by
   * {@link linkLabels} with `net` and `extra(a)`; `b` on `nodeB` carries only `ratchet: "true"`.
   *
   * @returns [a, b]
   */
  async addPair(
    names: [string, string],
    nodeA: LabNode,
    nodeB: LabNode,
    net?: string,
    extra: (a: LabPod) => Record<string, string> = () => ({}),
  ): Promise<[LabPod, LabPod]> {
    const [a, b] = await this.addPods(names);
    await this.setPodMeta(a, nodeA, linkLabels(b, net, extra(a)));
    await this.setPodMeta(b, nodeB, { ratchet: "true" });
    return [a, b];
  }

  /** Runs the plugin for `pod` on `node` the way a runtime would, inside the node's namespace. */
  call(
    command: string,
    node: LabNode,
    pod: LabPod,
    conf: unknown,
    extra: { ifname?: string; netns?: string } = {},
  ): Promise<PluginReply> {
    return runPlugin("ratchet", {
      command,
      containerId: pod.containerId,
      netns: extra.netns ?? pod.path,
      ifname: extra.ifname ?? "eth0",
      cniArgs:
        `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
      conf,
      node: node.ns,
    });
  }

  /** ADD that must succeed; returns the result. */
  async add(node: LabNode, pod: LabPod, conf = this.conf(node)): Promise<any> {
    const r = await this.call("ADD", node, pod, conf);
    if (r.code !== 0) throw new Error(`ADD ${pod.name} failed: ${r.stdout}${r.stderr}\n${this.log()}`);
    return r.json;
  }

  /** DEL that must succeed. */
  async del(node: LabNode, pod: LabPod, conf = this.conf(node), netns?: string): Promise<void> {
    const r = await this.call("DEL", node, pod, conf, { netns });
    if (r.code !== 0) throw new Error(`DEL ${pod.name} failed: ${r.stdout}${r.stderr}\n${this.log()}`);
  }

  /** The plugin log's last lines, for failure messages. */
  log(lines = 40): string {
    try {
      return Deno.readTextFileSync(this.logFile).trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** One ping from inside `pod`; true when it was answered. */
  async ping(pod: LabPod, ip: string, count = 2): Promise<boolean> {
    try {
      await nsExec(pod.ns, "ping", "-c", String(count), "-i", "0.2", "-W", "2", ip.split("/")[0]);
      return true;
    } catch {
      return false;
    }
  }

  /** `ip -j -d link show` of one interface in a pod, or undefined. */
  async link(pod: LabPod, ifname: string): Promise<any> {
    const links = await ipJson(pod.ns, "-d", "link", "show").catch(() => []);
    return links.find((l: { ifname: string }) => l.ifname === ifname);
  }

  /** The IPv4/IPv6 addresses (addr/prefix) of one interface in a pod. */
  async addrs(pod: LabPod, ifname: string): Promise<string[]> {
    const [entry] = await ipJson(pod.ns, "addr", "show", "dev", ifname).catch(() => [undefined]);
    return (entry?.addr_info ?? []).filter((a: { scope: string }) => a.scope === "global").map((
      a: { local: string; prefixlen: number },
    ) => `${a.local}/${a.prefixlen}`);
  }

  /** Keys under `prefix` in the lab's store. */
  async keys(prefix: string): Promise<string[]> {
    return (await this.store.list(prefix)).map((kv) => kv.key);
  }

  /**
   * Keys the plugin wrote for this lab's pods and has not removed (apply's keys and the tests' own
   * are not counted), so labs sharing one etcd do not see each other's.
   */
  async leftovers(): Promise<string[]> {
    const ids = [...this.containerIds];
    return (await this.store.list("/ratchet/"))
      .filter((kv) => !/^\/ratchet\/(pods|nodes|links)\//.test(kv.key))
      .filter((kv) =>
        [kv.key, kv.value].some((t) => t.includes(this.prefix) || ids.some((id) => t.includes(id)))
      )
      .map((kv) => kv.key);
  }

  /** Deletes every namespace, forwarder and temp file, and (etcd) the ratchet keys; safe to call twice. */
  async cleanup(): Promise<void> {
    for (const pid of waiterPids(this.nodes.map((n) => n.name))) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    for (const l of this.#listeners.splice(0)) {
      try {
        l.close();
      } catch { /* closed */ }
    }
    for (const s of this.#spaces.splice(0)) await s.cleanup().catch(() => {});
    if (this.#store) {
      if ("etcd" in this.storeAt) await this.#store.txn([], [{ deletePrefix: "/ratchet/" }]).catch(() => {});
      await this.#store.close();
      this.#store = undefined;
    }
    await Deno.remove(this.tmp, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
  }

  /** Pids of the live waiters of this lab's nodes. */
  waiters(): number[] {
    return waiterPids(this.nodes.map((n) => n.name));
  }
}

/** Pids of live `ratchet-child waiter` processes working for any of the nodes, read from /proc. */
export function waiterPids(nodes: string[]): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      const argv = cmdline(e.name, fields[1] === "2" || e.name === "2");
      const node = argv[argv.indexOf("--node") + 1];
      if (argv.some((a) => a.endsWith("ratchet-child")) && argv.includes("waiter") && nodes.includes(node)) {
        out.push(Number(e.name));
      }
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * A process's argv. A waiter that ADD has just started goes through three execs (setsid, the launcher,
 * deno), and during an exec its cmdline can read empty or fail: such a read is tried again for up to
 * 50 ms. Kernel threads (parent 2) have no cmdline at all and are not waited for.
 */
function cmdline(pid: string, kernelThread: boolean): string[] {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0;; tries++) {
    let text = "";
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    } catch (e) {
      if (tries >= 10) throw e; // gone for good
    }
    if (text || kernelThread || tries >= 10) return text.split("\0");
    Atomics.wait(pause, 0, 0, 5);
  }
}

/** A step's work on its lab; `nodes` is `lab.nodes`. */
export type LabStepBody = (lab: RatchetLab, nodes: LabNode[]) => Promise<void>;

/** What a test on one store gets: steps on fresh labs on that store, and the test etcd when it is etcd. */
export interface StoreSuite {
  /**
   * A test step on a fresh lab, given to `body` with its two nodes. After `body` the step fails
   * unless the lab is clean ({@link assertClean}); the lab is removed however the step ends.
   *
   * @returns false when the step failed, as Deno.TestContext.step does
   */
  step(title: string, body: LabStepBody): Promise<boolean>;
  etcd?: TestEtcd;
}

/**
 * Registers the test twice, on the file store and on one real etcd shared by its steps (started
 * before them, stopped after them).
 */
export function onEachStore(title: string, body: (suite: StoreSuite) => Promise<void>): void {
  for (const backend of ["file", "etcd"] as const) {
    Deno.test(`${title} on the ${backend} store`, async (t) => {
      const etcd = backend === "etcd" ? await startEtcd() : undefined;
      const step = (name: string, run: LabStepBody) =>
        t.step(name, async () => {
          await using lab = await RatchetLab.create(etcd ? { etcd: etcd.endpoint } : "file");
          await run(lab, lab.nodes);
          await assertClean(lab);
        });
      try {
        await body({ step, etcd });
      } finally {
        await etcd?.stop();
      }
    });
  }
}

/**
 * Fails unless the lab's pods left no store record and, once its idle while is over, no waiter
 * process (nor the lease of one) behind.
 */
export async function assertClean(lab: RatchetLab): Promise<void> {
  assert.ok(await eventually(() => lab.waiters().length === 0, 10_000), "a waiter is still running");
  assert.deepEqual(await lab.leftovers(), [], "store records left behind");
}

/** Waits until `cond` holds, polling; false when `ms` passes first. */
export async function eventually(
  cond: () => Promise<boolean> | boolean,
  ms = 15_000,
  every = 100,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, every));
  }
  return await cond();
}
