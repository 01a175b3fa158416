/**
 * ratchet's link making beside references doing the same work:
 *
 * 1. 100 veth links on one node and 100 vxlan links across two nodes, through the real plugin (one
 *    process per pod, as a runtime runs it, 8 at a time), against 200 empty `deno run` processes at
 *    the same concurrency (Deno's start-up floor, which every plugin call pays), in three rounds of
 *    the two side by side (the median round is reported), and against ip -batch per node plus one ip
 *    per pod for its addresses;
 * 2. the node's waiters while 250 pods wait for late peers: their total RSS (goal <= 100 MiB), then
 *    the time until all 250 links are up once the peers arrive;
 * 3. the cost per link while one node grows to 1000 links (2000 link ends), measured at 100, 250,
 *    500 and 1000 links, in process (store + netlink, no process start), on the file store and on
 *    etcd, against ip -batch doing the same growth.
 *
 * Everything lives in throwaway namespaces (nodes joined by a veth underlay); the host is untouched.
 * Run alone: `deno run -A bench/ratchet_bench.ts` (prints a table), or through bench/main.ts.
 */
import type { BenchRow } from "./main.ts";
import { startEtcd } from "../tests/lib/etcd.ts";
import { ipJson, sh, TempNetns } from "../tests/lib/netns.ts";
import { eventually, type LabPod, RatchetLab, waiterPids } from "../tests/lib/ratchet_lab.ts";
import type { LinkEnd } from "../mod/links/mod.ts";
import { KEY, type LinkState } from "../mod/ratchet/keys.ts";
import { linkCondition } from "../mod/ratchet/link_view.ts";
import { runPlugin } from "../tests/lib/plugin.ts";
import { emptyLauncher, untilIdle } from "./plugin_call.ts";

const PLUGIN_LINKS = 100;
const WAITING_PODS = 250;
const PARALLEL = 8;
const GROWTH_CHECKPOINTS = [100, 250, 500, 1000];
/** Each arriving pod links to this many of the pods before it. */
const FAN = 10;

/** A /30 per link: `.1` on one end, `.2` on the other. */
function linkAddrs(n: number): [string, string] {
  const base = n * 4;
  const net = `10.${128 + (base >> 16)}.${(base >> 8) & 255}.${base & 255}`;
  const [a, b, c, d] = net.split(".").map(Number);
  return [`${a}.${b}.${c}.${d + 1}/30`, `${a}.${b}.${c}.${d + 2}/30`];
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

function primaryLabels(pair: LabPod, n: number) {
  const [a, b] = linkAddrs(n);
  return {
    ratchet: "true",
    "ratchet.local_ip": a.split("/")[0],
    "ratchet.local_prefix": "30",
    "ratchet.local_ifname": "in1",
    "ratchet.pair_name": pair.name,
    "ratchet.pair_ip": b.split("/")[0],
    "ratchet.pair_prefix": "30",
    "ratchet.pair_ifname": "in2",
    "ratchet.primary": "true",
  };
}

/**
 * 100 links through the plugin: all primaries first, then all pairs, PARALLEL pods at a time. Returns
 * the wall time in ms from the first ADD until the store says every link is up.
 */
async function pluginLinks(kind: "veth" | "vxlan"): Promise<number> {
  await using lab = await RatchetLab.create("file");
  const [n1, n2] = lab.nodes;
  const nodeB = kind === "veth" ? n1 : n2;
  const pods = await lab.addPods(Array.from({ length: 2 * PLUGIN_LINKS }, (_, i) => `p${i}`));
  const primaries = pods.slice(0, PLUGIN_LINKS), pairs = pods.slice(PLUGIN_LINKS);
  for (const [i, p] of primaries.entries()) {
    await lab.setPodMeta(p, n1, primaryLabels(pairs[i], i));
    await lab.setPodMeta(pairs[i], nodeB, { ratchet: "true" });
  }
  // No boot_network: its plugin (a Go binary exec'd from the fresh Deno process, 20-45 ms here) is the
  // delegate's cost, not ratchet's; the CNI tests run ratchet with one. The waiter idles for the
  // shipped waiter_idle_s, not the lab's 2 s: with that, the pairs' node saw its waiter exit and be
  // started again (a Deno start from main.ts) four or five times over one row.
  const conf = (n: typeof n1) =>
    lab.conf(n, {
      log_level: "warn",
      child_timeout_s: 300,
      boot_network: undefined,
      waiter_idle_s: undefined,
    });
  const t0 = performance.now();
  await pool(primaries, PARALLEL, (p) => lab.add(n1, p, conf(n1)));
  await pool(pairs, PARALLEL, (p) => lab.add(nodeB, p, conf(nodeB)));
  // The clock stops when the store says every link is up (each state is written after its kernel work),
  // polled in process; ip then reads every end from the kernel, off the clock: 100 ip processes take
  // about 0.5 s, which the floor's calls do not pay.
  const done = await eventually(async () => (await linksUp(lab)) === PLUGIN_LINKS, 120_000, 50);
  const ms = performance.now() - t0;
  if (!done) throw new Error(`${kind}: not every link was made\n${lab.log()}`);
  const ends = await countEnds(primaries);
  if (ends !== PLUGIN_LINKS) {
    throw new Error(`${kind}: the store says every link is up, ip finds ${ends} ends`);
  }
  return ms;
}

/**
 * The floor for 1: 2 * PLUGIN_LINKS calls of an empty Deno program behind a launcher shaped like
 * ratchet's, made the way the plugin's calls are (the runtime stand-in, inside the node's namespace),
 * PARALLEL at a time: Deno's start-up and the harness, nothing of ours.
 */
async function emptyDenoRuns(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-bench-" });
  const node = await TempNetns.create(["floor"]);
  try {
    const program = await emptyLauncher(dir);
    const t0 = performance.now();
    await pool(Array.from({ length: 2 * PLUGIN_LINKS }, (_, i) => i), PARALLEL, async (i) => {
      const r = await runPlugin(program, {
        command: "ADD",
        containerId: `floor-${i}`,
        netns: node.path(0),
        ifname: "eth0",
        conf: { cniVersion: "1.0.0", name: "floor", type: "empty" },
        node: node.name(0),
      });
      if (r.code !== 0) throw new Error(`empty deno run failed: ${r.stderr}`);
    });
    return performance.now() - t0;
  } finally {
    await node.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

/** RSS of a process in MiB, from /proc/<pid>/status. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : 0;
}

/**
 * 2: WAITING_PODS pods on one node wait for late peers; the waiters' total RSS while they wait,
 * then the time from the first peer's ADD until every link is up.
 */
async function waiters(): Promise<{ rssMiB: number; processes: number; upMs: number }> {
  await using lab = await RatchetLab.create("file");
  const [n1] = lab.nodes;
  const pods = await lab.addPods(Array.from({ length: 2 * WAITING_PODS }, (_, i) => `w${i}`));
  const primaries = pods.slice(0, WAITING_PODS), pairs = pods.slice(WAITING_PODS);
  for (const [i, p] of primaries.entries()) {
    await lab.setPodMeta(p, n1, primaryLabels(pairs[i], i));
    await lab.setPodMeta(pairs[i], n1, { ratchet: "true" });
  }
  const conf = lab.conf(n1, { log_level: "warn", child_timeout_s: 600 });
  await pool(primaries, PARALLEL, (p) => lab.add(n1, p, conf));
  await new Promise((r) => setTimeout(r, 2000));
  const pids = waiterPids([n1.name]);
  const rss = pids.reduce((sum, pid) => sum + rssMiB(pid), 0);
  const t0 = performance.now();
  await pool(pairs, PARALLEL, (p) => lab.add(n1, p, conf));
  const done = await eventually(async () => (await countEnds(primaries)) === WAITING_PODS, 300_000, 500);
  if (!done) throw new Error(`waiters: not every link came up\n${lab.log()}`);
  return { rssMiB: rss, processes: pids.length, upMs: performance.now() - t0 };
}

/** Links whose state is up, by the rule `ratchet status` and monkey show (mod/ratchet/link_view.ts). */
async function linksUp(lab: RatchetLab): Promise<number> {
  const states = (await lab.store.list(KEY.states)).map((kv) => JSON.parse(kv.value) as LinkState);
  return states.filter((s) => linkCondition(s) === "up").length;
}

async function countEnds(pods: LabPod[]): Promise<number> {
  let n = 0;
  for (const p of pods) n += (await ipJson(p.ns, "link", "show", "in1").catch(() => [])).length;
  return n;
}

/** The reference for 1: the same links with ip, one batch per node and one ip per pod for addresses. */
async function ipLinks(kind: "veth" | "vxlan"): Promise<number> {
  const nodes = await TempNetns.create(["rn1", "rn2"]);
  const pods = await TempNetns.create(Array.from({ length: 2 * PLUGIN_LINKS }, (_, i) => `q${i}`), {
    lo: false,
  });
  const dir = await Deno.makeTempDir({ prefix: "ratchet-bench-" });
  try {
    const [n1, n2] = [nodes.name(0), nodes.name(1)];
    await sh("ip", "-n", n1, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", n2);
    await sh("ip", "-n", n1, "addr", "add", "192.168.1.224/24", "dev", "eth0");
    await sh("ip", "-n", n2, "addr", "add", "192.168.1.225/24", "dev", "eth0");
    await sh("ip", "-n", n1, "link", "set", "eth0", "up");
    await sh("ip", "-n", n2, "link", "set", "eth0", "up");
    const t0 = performance.now();
    const batches: [string, string[]][] = [[n1, []], [n2, []]];
    for (let i = 0; i < PLUGIN_LINKS; i++) {
      const a = pods.name(i), b = pods.name(PLUGIN_LINKS + i);
      if (kind === "veth") {
        batches[0][1].push(`link add in1 netns ${a} type veth peer name in2 netns ${b}`);
      } else {
        batches[0][1].push(
          `link add vx${i} type vxlan id ${
            1000 + i
          } remote 192.168.1.225 local 192.168.1.224 dev eth0 dstport 4789 nolearning`,
          `link set vx${i} netns ${a} name in1`,
        );
        batches[1][1].push(
          `link add vx${i} type vxlan id ${
            1000 + i
          } remote 192.168.1.224 local 192.168.1.225 dev eth0 dstport 4789 nolearning`,
          `link set vx${i} netns ${b} name in2`,
        );
      }
    }
    for (const [ns, lines] of batches) {
      if (!lines.length) continue;
      Deno.writeTextFileSync(`${dir}/${ns}`, lines.join("\n") + "\n");
      await sh("ip", "-n", ns, "-batch", `${dir}/${ns}`);
    }
    await pool(Array.from({ length: 2 * PLUGIN_LINKS }, (_, i) => i), PARALLEL, async (i) => {
      const link = i < PLUGIN_LINKS ? i : i - PLUGIN_LINKS;
      const ifname = i < PLUGIN_LINKS ? "in1" : "in2";
      const file = `${dir}/pod${i}`;
      Deno.writeTextFileSync(
        file,
        `addr add ${linkAddrs(link)[i < PLUGIN_LINKS ? 0 : 1]} dev ${ifname}\nlink set ${ifname} up\n`,
      );
      await sh("ip", "-n", pods.name(i), "-batch", file);
    });
    return performance.now() - t0;
  } finally {
    await pods.cleanup();
    await nodes.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Time per link of each stretch between GROWTH_CHECKPOINTS, fed the running link count. */
class Checkpoints {
  readonly perLink: number[] = [];
  #mark = performance.now();
  #markLinks = 0;
  passed(made: number): void {
    if (made < GROWTH_CHECKPOINTS[this.perLink.length]) return;
    const now = performance.now();
    this.perLink.push((now - this.#mark) / (made - this.#markLinks));
    this.#mark = now;
    this.#markLinks = made;
  }
}

/** Pod k links to the FAN pods before it; returns pod k's declared ends and the links' numbers. */
function growthLinks(k: number, names: string[], first: number): { ends: LinkEnd[]; count: number } {
  const ends: LinkEnd[] = [];
  for (let j = Math.max(0, k - FAN); j < k; j++) {
    const [a, b] = linkAddrs(first + ends.length);
    ends.push({
      ifname: `p${j}`,
      ip: a,
      peer: { pod: names[j], namespace: "default", ifname: `p${k}`, ip: b },
      primary: true,
    });
  }
  return { ends, count: ends.length };
}

/** Pods needed to reach the last checkpoint. */
function podsFor(links: number): number {
  let k = 0, made = 0;
  while (made < links) made += Math.min(k++, FAN);
  return k;
}

/**
 * 2: pods arrive one at a time on one node, each linking to the FAN before it; the time per link of
 * each stretch between checkpoints. In process: registration + settle, the plugin minus its start.
 */
async function growth(store: "file" | { etcd: string }): Promise<{ perLink: number[]; peakMb: number }> {
  const [{ loadRatchetConf }, { register }, { settle }] = await Promise.all([
    import("../mod/ratchet/conf.ts"),
    import("../mod/ratchet/register.ts"),
    import("../mod/ratchet/settle.ts"),
  ]);
  await using lab = await RatchetLab.create(store, 1);
  const [node] = lab.nodes;
  const nodePath = `/run/netns/${node.ns}`;
  const conf = loadRatchetConf({
    cniVersion: "1.0.0",
    name: "bench",
    type: "ratchet",
    ...lab.storeFields(),
    delegate: { type: "bridge" },
  });
  const count = podsFor(GROWTH_CHECKPOINTS.at(-1)!);
  const pods = await lab.addPods(Array.from({ length: count }, (_, i) => `g${i}`));
  const names = pods.map((p) => p.name);
  const checkpoints = new Checkpoints();
  let made = 0, peak = 0;
  for (const [k, pod] of pods.entries()) {
    const { ends } = growthLinks(k, names, made);
    const self = { namespace: "default", pod: pod.name };
    const { record: attach } = await register(lab.store, self, {
      container_id: pod.containerId,
      netns: pod.path,
      node: node.name,
      parent_interface: "",
      parent_address: "",
      links: ends,
    }, {
      namespace: "default",
      pod: pod.name,
      ifname: "eth0",
      netns: pod.path,
      eligible: true,
      node: node.name,
      network: "bench",
    });
    const out = await settle(
      { vniStart: conf.vniStart, store: lab.store, self, attach, nodeNetns: nodePath },
      {
        claimWaitMs: 0,
      },
    );
    if (out.made.length !== ends.length) {
      throw new Error(`pod ${k}: made ${out.made.length} of ${ends.length}: ${out.failed[0]?.error.message}`);
    }
    made += ends.length;
    peak = Math.max(peak, Deno.memoryUsage().rss);
    checkpoints.passed(made);
  }
  return { perLink: checkpoints.perLink, peakMb: peak / 2 ** 20 };
}

/** The reference for 2: the same growth with ip, one batch in the node and one per touched pod. */
async function ipGrowth(): Promise<number[]> {
  const node = await TempNetns.create(["gnode"]);
  const count = podsFor(GROWTH_CHECKPOINTS.at(-1)!);
  const pods = await TempNetns.create(Array.from({ length: count }, (_, i) => `h${i}`), { lo: false });
  const dir = await Deno.makeTempDir({ prefix: "ratchet-bench-" });
  try {
    const checkpoints = new Checkpoints();
    let made = 0;
    for (let k = 0; k < count; k++) {
      const create: string[] = [];
      const addr = new Map<number, string[]>();
      for (let j = Math.max(0, k - FAN); j < k; j++) {
        const [a, b] = linkAddrs(made++);
        create.push(`link add p${j} netns ${pods.name(k)} type veth peer name p${k} netns ${pods.name(j)}`);
        addr.set(k, [...(addr.get(k) ?? []), `addr add ${a} dev p${j}`, `link set p${j} up`]);
        addr.set(j, [...(addr.get(j) ?? []), `addr add ${b} dev p${k}`, `link set p${k} up`]);
      }
      if (create.length) {
        Deno.writeTextFileSync(`${dir}/create`, create.join("\n") + "\n");
        await sh("ip", "-n", node.name(0), "-batch", `${dir}/create`);
        for (const [p, lines] of addr) {
          Deno.writeTextFileSync(`${dir}/addr`, lines.join("\n") + "\n");
          await sh("ip", "-n", pods.name(p), "-batch", `${dir}/addr`);
        }
      }
      checkpoints.passed(made);
    }
    return checkpoints.perLink;
  } finally {
    await pods.cleanup();
    await node.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The parts of this benchmark, by name; run alone they take `deno run -A bench/ratchet_bench.ts NAME…`. */
export type Part = "plugin" | "waiters" | "growth";

/** Every row of this benchmark, or of the parts named. */
export async function run(parts: Part[] = ["plugin", "waiters", "growth"]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  if (parts.includes("plugin")) rows.push(...await pluginRows());
  if (parts.includes("waiters")) rows.push(...await waiterRows());
  if (parts.includes("growth")) rows.push(...await growthRows());
  return rows;
}

/**
 * Rounds of (ours, floor) taken one right after the other, each once the machine is idle again (the
 * kernel tears a lab's 200 namespaces down in the background after its cleanup). Before that wait the
 * same 200 empty calls took 12.6-15.4 s from one minute to the next and a round's ratio ranged over
 * 1.28-1.64, so the row gives the round with the median ratio.
 */
const PLUGIN_ROUNDS = 3;

async function pluginRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const kind of ["veth", "vxlan"] as const) {
    const rounds: { ours: number; floor: number }[] = [];
    for (let i = 0; i < PLUGIN_ROUNDS; i++) {
      await untilIdle();
      const ours = await pluginLinks(kind);
      await untilIdle();
      rounds.push({ ours, floor: await emptyDenoRuns() });
    }
    const ratios = rounds.map((r) => r.ours / r.floor);
    const median = rounds[ratios.indexOf([...ratios].sort((a, b) => a - b)[PLUGIN_ROUNDS >> 1])];
    const ref = await ipLinks(kind);
    rows.push({
      name: `${PLUGIN_LINKS} ${kind} links via the plugin (${
        2 * PLUGIN_LINKS
      } ADDs, ${PARALLEL} at a time, file store)`,
      ours_ms: median.ours,
      ref_ms: median.floor,
      ratio: median.ours / median.floor,
      note:
        `ref: ${
          2 * PLUGIN_LINKS
        } calls of an empty Deno program, same launcher, same node namespace, ${PARALLEL} at a time (goal <= 1.5); ` +
        `median of ${PLUGIN_ROUNDS} rounds (ratios ${ratios.map((r) => r.toFixed(2)).join(", ")}); ` +
        `ip -batch per node + one ip per pod: ${ref.toFixed(0)} ms`,
    });
  }
  return rows;
}

async function waiterRows(): Promise<BenchRow[]> {
  await untilIdle();
  const w = await waiters();
  return [{
    name: `${WAITING_PODS} pods waiting for late peers on one node: waiters' total RSS`,
    ours_ms: w.upMs,
    peak_mb: w.rssMiB,
    note:
      `${w.processes} waiter process(es), goal <= 100 MiB; ms: from the first peer's ADD until all ${WAITING_PODS} links are up`,
  }];
}

async function growthRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  await untilIdle();
  const refGrowth = await ipGrowth();
  const etcd = await startEtcd();
  try {
    for (const [label, store] of [["file store", "file"], ["etcd", { etcd: etcd.endpoint }]] as const) {
      await untilIdle();
      const ours = await growth(store);
      for (const [i, links] of GROWTH_CHECKPOINTS.entries()) {
        rows.push({
          name: `per link while one node grows, at ${links} links (${2 * links} ends), ${label}`,
          ours_ms: ours.perLink[i],
          ref_ms: refGrowth[i],
          ratio: ours.perLink[i] / refGrowth[i],
          peak_mb: i === GROWTH_CHECKPOINTS.length - 1 ? ours.peakMb : undefined,
          note: i === 0 ? `in process; each pod links to the ${FAN} before it; ref: ip -batch` : undefined,
        });
      }
    }
  } finally {
    await etcd.stop();
  }
  return rows;
}

if (import.meta.main) {
  const { toMarkdown } = await import("./main.ts");
  const parts = Deno.args.length ? Deno.args as Part[] : undefined;
  console.log(toMarkdown((await run(parts)).map((r) => ({ suite: "ratchet", ...r }))));
}
