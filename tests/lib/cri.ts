/**
 * The Kubernetes runtime path for tests: a private containerd (Debian's 1.6, its CRI plugin) started
 * inside a node network namespace with `nsenter --net`, driven by crictl in place of kubelet. Every
 * plugin containerd runs then works in that namespace; the host's interfaces are never touched.
 *
 * Everything lives in a temp dir: containerd's root and state, its socket, the CNI bin and conf dirs,
 * the pod logs. The pause image is built offline (a static C `pause()` loop, or busybox-static) and
 * imported with ctr. cleanup() removes pods, containerd, its shims, mounts, cgroups and the host dirs
 * containerd 1.6 and libcni create, and only those this run created; it also runs at process exit.
 *
 * The facts this relies on are in ../shared/cri/README.md (next to the repository), which also holds
 * crictl (Debian has no package); {@linkcode criSupport} says whether the tests can run.
 *
 * @example
 * ```ts
 * await using cri = await CriRuntime.start({ node: "rt-node-1a2b", conflist });
 * const pod = await cri.runp({ name: "web-0", namespace: "shop" });
 * await cri.stopp(pod.id);
 * await cri.rmp(pod.id);
 * ```
 */
import { binDir } from "./plugin.ts";
import { run, type RunResult, sh, ShError } from "./netns.ts";

const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The sandbox image every pod runs; imported offline, never pulled. */
export const PAUSE_IMAGE = "localhost/ratchet-cni-tests/pause:offline";

/** How long containerd may take to answer, and the CNI config to become ready. */
const READY_WITHIN_MS = 30_000;

/** Whether the CRI tests can run here, and why not. */
export interface CriSupport {
  /** True when the tests must be skipped (Deno test `ignore`). */
  ignore: boolean;
  /** Why they are skipped, or what is missing when CI must fail instead. */
  reason: string;
  /** The shared folder holding crictl.xz, when found. */
  dir?: string;
}

/**
 * The shared CRI folder: `../shared/cri` next to the repository. A git worktree resolves it next to its
 * main checkout, so a developer's worktree finds the same folder CI does.
 */
export function sharedCriDir(): string | undefined {
  const candidates = [`${repo}/../shared/cri`];
  try {
    // A worktree's .git is a file: "gitdir: <main>/.git/worktrees/<name>".
    const m = Deno.readTextFileSync(`${repo}/.git`).match(/^gitdir:\s*(.+?)\/\.git\/worktrees\//m);
    if (m) candidates.push(`${m[1]}/../shared/cri`);
  } catch { /* a plain checkout */ }
  return candidates.find((d) => exists(d));
}

/**
 * Decides, synchronously (for `Deno.test`'s `ignore`), whether the CRI tests run. Without the shared
 * folder they are skipped. With it, a missing crictl, containerd, runc or pause-binary builder skips
 * them, except with `CI=true`, where it is a failure: the tests then run and
 * {@linkcode CriRuntime.start} throws, naming what is missing.
 */
export function criSupport(): CriSupport {
  if (Deno.uid() !== 0) return { ignore: true, reason: "the CRI tests need root" };
  const dir = sharedCriDir();
  if (!dir) {
    return {
      ignore: true,
      reason: `no ${repo}/../shared/cri (crictl.xz and the CRI notes); the CRI tests need that folder`,
    };
  }
  const missing = missingTools(dir);
  if (missing.length === 0) return { ignore: false, reason: "", dir };
  const reason = `missing ${missing.join(", ")} (tests/run.sh installs them)`;
  return { ignore: Deno.env.get("CI") !== "true", reason, dir };
}

function missingTools(dir: string): string[] {
  const missing = ["containerd", "ctr", "runc", "nsenter", "tar", "xz", "findmnt", "sha256sum"]
    .filter((t) => !onPath(t));
  if (!exists(`${dir}/crictl.xz`)) missing.push(`crictl (${dir}/crictl.xz)`);
  if (!onPath("gcc") && !staticBusybox()) missing.push("gcc or busybox-static");
  return missing;
}

function onPath(cmd: string): boolean {
  return (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").some((d) =>
    exists(`${d}/${cmd}`)
  );
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function staticBusybox(): boolean {
  // busybox-static installs /bin/busybox; the dynamic busybox package would need a libc in the image.
  try {
    const head = Deno.readFileSync("/bin/busybox").subarray(0, 4096);
    return !new TextDecoder().decode(head).includes("ld-linux");
  } catch {
    return false;
  }
}

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** sha256sum of a file: coreutils reads crictl's 50 MB in a tenth of the time WebCrypto takes here. */
async function sha256File(path: string): Promise<string> {
  return exists(path) ? (await sh("sha256sum", path)).split(/\s+/)[0] : "";
}

let crictlReady: Promise<string> | undefined;

/**
 * crictl unpacked into the repository's `.tools/` (git-ignored) from the shared `crictl.xz`, its sha256
 * checked against `crictl.sha256`; unpacked again when the copy there differs.
 */
export function crictl(dir: string): Promise<string> {
  crictlReady ??= (async () => {
    const want = (await Deno.readTextFile(`${dir}/crictl.sha256`)).trim().split(/\s+/)[0];
    const path = `${repo}/.tools/crictl`;
    if (await sha256File(path) === want) return path;
    await Deno.mkdir(`${repo}/.tools`, { recursive: true });
    const out = await new Deno.Command("xz", { args: ["-dc", `${dir}/crictl.xz`], stdout: "piped" }).output();
    if (!out.success) throw new Error(`xz -dc ${dir}/crictl.xz failed`);
    await Deno.writeFile(`${path}.tmp`, out.stdout, { mode: 0o755 });
    const got = await sha256File(`${path}.tmp`);
    if (got !== want) {
      await Deno.remove(`${path}.tmp`);
      throw new Error(`crictl.xz unpacks to sha256 ${got}, crictl.sha256 says ${want}`);
    }
    await Deno.rename(`${path}.tmp`, path);
    return path;
  })();
  return crictlReady;
}

const PAUSE_C = `#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
static void down(int s) { (void)s; exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) ; }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = down;
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return 1;
  sa.sa_handler = reap; sa.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGCHLD, &sa, NULL) < 0) return 2;
  for (;;) pause();
}
`;

let pauseReady: Promise<string> | undefined;

/**
 * The pause image as an OCI layout tar (one uncompressed layer, config, manifest, index with
 * `io.containerd.image.name`), built in a temp dir and kept in `.tools/` under a name that changes with
 * its source, so later runs skip the compiler.
 */
function pauseImage(): Promise<string> {
  pauseReady ??= (async () => {
    const gcc = onPath("gcc");
    const tar = `${repo}/.tools/cri-pause-${(await sha256Hex(`${gcc}\n${PAUSE_C}`)).slice(0, 12)}.tar`;
    if (exists(tar)) return tar;
    const dir = await Deno.makeTempDir({ prefix: "rt-cri-pause-" });
    try {
      await buildPause(dir, gcc);
      await Deno.mkdir(`${repo}/.tools`, { recursive: true });
      await Deno.copyFile(`${dir}/pause-oci.tar`, `${tar}.tmp`);
      await Deno.rename(`${tar}.tmp`, tar);
      return tar;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return pauseReady;
}

async function buildPause(dir: string, gcc: boolean): Promise<void> {
  await Deno.mkdir(`${dir}/rootfs`);
  let entry = ["/pause"];
  if (gcc) {
    await Deno.writeTextFile(`${dir}/pause.c`, PAUSE_C);
    await sh("gcc", "-Os", "-static", "-o", `${dir}/rootfs/pause`, `${dir}/pause.c`);
  } else {
    await Deno.copyFile("/bin/busybox", `${dir}/rootfs/pause`);
    entry = ["/pause", "sleep", "2147483647"];
  }
  await Deno.chmod(`${dir}/rootfs/pause`, 0o755);
  const blobs = `${dir}/oci/blobs/sha256`;
  await Deno.mkdir(blobs, { recursive: true });
  await sh(
    "tar",
    "--sort=name",
    "--mtime=@0",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "-C",
    `${dir}/rootfs`,
    "-cf",
    `${dir}/layer.tar`,
    "pause",
  );
  const layer = await Deno.readFile(`${dir}/layer.tar`);
  const blob = async (data: Uint8Array | string) => {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const digest = await sha256Hex(bytes);
    await Deno.writeFile(`${blobs}/${digest}`, bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };
  const l = await blob(layer);
  const config = await blob(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Entrypoint: entry, WorkingDir: "/" },
    rootfs: { type: "layers", diff_ids: [l.digest] },
  }));
  const manifest = await blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l }],
  }));
  await Deno.writeTextFile(
    `${dir}/oci/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        platform: { architecture: "amd64", os: "linux" },
        annotations: {
          "io.containerd.image.name": PAUSE_IMAGE,
          "org.opencontainers.image.ref.name": "offline",
        },
      }],
    }),
  );
  await Deno.writeTextFile(`${dir}/oci/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await sh("tar", "-C", `${dir}/oci`, "-cf", `${dir}/pause-oci.tar`, "oci-layout", "index.json", "blobs");
}

/** A pod sandbox as a test asks for it. */
export interface PodSpec {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** Passed to plugins that declare the capability io.kubernetes.cri.pod-annotations. */
  annotations?: Record<string, string>;
}

/** A running pod sandbox. */
export interface CriPod {
  id: string;
  name: string;
  namespace: string;
  /** status.network.ip: the address the runtime took from the CNI result. */
  ip: string;
  /** The pod's network namespace (a path under containerd's state dir). */
  netns: string;
}

/** What {@linkcode CriRuntime.start} needs. */
export interface CriOptions {
  /** The node: a network namespace under /run/netns, which containerd and every plugin run in. */
  node: string;
  /** The one network config containerd reads (a conflist). */
  conflist: Record<string, unknown>;
}

/** Runtimes not yet cleaned up, for the exit-time sweep. */
const live = new Set<CriRuntime>();
let sweepInstalled = false;

/** A private containerd in a node namespace, with crictl to drive it. */
export class CriRuntime implements AsyncDisposable {
  #pid?: number;
  #child?: Deno.ChildProcess;
  #exited = false;
  #made: string[] = [];
  readonly sock: string;
  readonly cgroupParent: string;

  private constructor(readonly work: string, readonly crictlPath: string, readonly node: string) {
    this.sock = `${work}/containerd.sock`;
    this.cgroupParent = `/${work.split("/").pop()!.replace(/[^a-zA-Z0-9]/g, "-")}`;
  }

  /**
   * Starts containerd in the node's namespace, imports the pause image and waits until the CRI plugin
   * reports NetworkReady (the conflist loaded). The CNI bin dir holds this repository's launchers and
   * Debian's reference plugins (containerd itself needs `loopback`).
   * @throws Error naming what is missing or what containerd logged; everything made is removed first.
   */
  static async start(opts: CriOptions): Promise<CriRuntime> {
    const support = criSupport();
    if (!support.dir) throw new Error(support.reason);
    const missing = missingTools(support.dir);
    if (missing.length) {
      throw new Error(`the CRI tests need ${missing.join(", ")} (tests/run.sh installs them)`);
    }
    const [crictlPath, pauseTar] = await Promise.all([crictl(support.dir), pauseImage()]);
    const work = await Deno.makeTempDir({ prefix: "rt-cri-" });
    const cri = new CriRuntime(work, crictlPath, opts.node);
    if (!sweepInstalled) {
      sweepInstalled = true;
      globalThis.addEventListener("unload", () => {
        for (const c of live) c.killSync();
      });
    }
    live.add(cri);
    try {
      await cri.#setUp(opts.conflist);
      await cri.#waitReady(pauseTar);
      return cri;
    } catch (e) {
      const log = cri.logTail();
      await cri.cleanup();
      throw new Error(`${(e as Error).message}\n--- containerd.log (tail) ---\n${log}`);
    }
  }

  async #setUp(conflist: Record<string, unknown>): Promise<void> {
    const w = this.work;
    for (const d of ["root", "state", "opt", "net.d", "cni-bin", "logs"]) await Deno.mkdir(`${w}/${d}`);
    // The host paths containerd 1.6 and libcni write to whatever the config says; noted to remove later.
    for (const p of ["/run/containerd", "/var/lib/cni"]) if (!exists(p)) this.#made.push(p);
    for (const e of Deno.readDirSync(binDir())) {
      await Deno.symlink(`${binDir()}/${e.name}`, `${w}/cni-bin/${e.name}`);
    }
    for (const e of Deno.readDirSync("/usr/lib/cni")) {
      if (!exists(`${w}/cni-bin/${e.name}`)) {
        await Deno.symlink(`/usr/lib/cni/${e.name}`, `${w}/cni-bin/${e.name}`);
      }
    }
    await Deno.writeTextFile(`${w}/net.d/10-test.conflist`, JSON.stringify(conflist, null, 2));
    await Deno.writeTextFile(`${w}/config.toml`, containerdConfig(w, this.sock));
    await Deno.writeTextFile(
      `${w}/crictl.yaml`,
      `runtime-endpoint: unix://${this.sock}\nimage-endpoint: unix://${this.sock}\ntimeout: 30\n`,
    );
    // nsenter execs containerd, so the pid is containerd's; --net only (ip netns exec would remount
    // /sys, and runc then finds no cgroup mount).
    this.#child = new Deno.Command("sh", {
      args: [
        "-c",
        'exec nsenter --net="$1" containerd --config "$2" >"$3" 2>&1 </dev/null',
        "sh",
        `/run/netns/${this.node}`,
        `${w}/config.toml`,
        `${w}/containerd.log`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#pid = this.#child.pid;
    this.#child.status.then(() => this.#exited = true);
  }

  async #waitReady(pauseTar: string): Promise<void> {
    await this.#until("containerd answers", async () => (await this.#crictl(["version"])).success);
    await sh("ctr", "--address", this.sock, "-n", "k8s.io", "images", "import", pauseTar);
    await this.#until(
      "CRI sees the pause image",
      async () => (await this.#crictl(["inspecti", PAUSE_IMAGE])).success,
    );
    await this.#until("NetworkReady (the conflist loads)", async () => {
      const r = await this.#crictl(["info"]);
      if (!r.success) return false;
      const conditions = JSON.parse(r.stdout).status?.conditions ?? [];
      return conditions.some((c: { type: string; status: boolean }) => c.type === "NetworkReady" && c.status);
    });
  }

  /** Polls `cond` with capped, jittered backoff until it holds; throws after READY_WITHIN_MS. */
  async #until(what: string, cond: () => Promise<boolean>): Promise<void> {
    const until = Date.now() + READY_WITHIN_MS;
    for (let delay = 25;; delay = Math.min(delay * 2, 200)) {
      if (await cond()) return;
      if (this.#exited) throw new Error(`containerd exited before ${what}`);
      if (Date.now() > until) throw new Error(`${what}: not within ${READY_WITHIN_MS} ms`);
      await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * delay / 2));
    }
  }

  #crictl(args: string[]): Promise<RunResult> {
    return run(this.crictlPath, "--config", `${this.work}/crictl.yaml`, ...args);
  }

  /** Runs crictl with this runtime's endpoint; returns stdout. @throws Error with crictl's stderr. */
  async crictl(...args: string[]): Promise<string> {
    const t0 = performance.now();
    const r = await this.#crictl(args);
    if (Deno.env.get("CRI_TRACE")) {
      console.error(`crictl ${args[0]}: ${Math.round(performance.now() - t0)} ms`);
    }
    if (!r.success) throw new Error(`crictl ${args.join(" ")}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /**
   * `crictl runp`: the CRI RunPodSandbox kubelet sends, so containerd runs the conflist's ADD.
   * @throws Error with containerd's words (e.g. "failed to setup network for sandbox") when it fails.
   */
  async runp(spec: PodSpec): Promise<CriPod> {
    const namespace = spec.namespace ?? "default";
    const file = `${this.work}/pod-${namespace}-${spec.name}.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        metadata: { name: spec.name, namespace, uid: crypto.randomUUID(), attempt: 0 },
        hostname: spec.name,
        log_directory: `${this.work}/logs/${namespace}-${spec.name}`,
        labels: spec.labels ?? {},
        annotations: spec.annotations ?? {},
        // Our own cgroup parent, so cleanup can find and remove the pods' cgroups.
        linux: { cgroup_parent: this.cgroupParent },
      }),
    );
    const id = (await this.crictl("runp", file)).trim();
    const info = await this.inspectp(id);
    const netns = (info.info?.runtimeSpec?.linux?.namespaces ?? [])
      .find((n: { type: string }) => n.type === "network")?.path ?? "";
    return { id, name: spec.name, namespace, ip: info.status?.network?.ip ?? "", netns };
  }

  /** `crictl stopp`: containerd runs DEL with the netns and the cached result. */
  async stopp(id: string): Promise<void> {
    await this.crictl("stopp", id);
  }

  /** `crictl rmp`: containerd runs DEL again, with an empty CNI_NETNS and no result. */
  async rmp(id: string): Promise<void> {
    await this.crictl("rmp", id);
  }

  /** `crictl inspectp -o json`, parsed. */
  async inspectp(id: string): Promise<any> {
    return JSON.parse(await this.crictl("inspectp", "-o", "json", id));
  }

  /** The ids of every pod sandbox containerd knows. */
  async pods(): Promise<string[]> {
    return (await this.crictl("pods", "-q")).split("\n").filter(Boolean);
  }

  /** The last lines of containerd's log, for failure messages. */
  logTail(lines = 25): string {
    try {
      return Deno.readTextFileSync(`${this.work}/containerd.log`).trimEnd().split("\n").slice(-lines)
        .map((l) => l.slice(0, 600)).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /**
   * Removes everything: pods (stopp + rmp, so the plugins' DELs run), containerd (TERM, then KILL),
   * its shims and whatever is left in its cgroups, mounts under the work dir, the cgroups, the host
   * dirs this run created, and the work dir. Safe to call twice.
   */
  async cleanup(): Promise<void> {
    if (!live.delete(this)) return;
    if (this.#child) {
      if (!this.#exited) {
        for (const id of await this.pods().catch(() => [])) {
          await this.stopp(id).catch(() => {});
          await this.rmp(id).catch(() => {});
        }
        this.#signal("SIGTERM");
        const stopped = await Promise.race([
          this.#child.status.then(() => true),
          new Promise<boolean>((r) => setTimeout(r, 5000, false)),
        ]);
        if (!stopped) this.#signal("SIGKILL");
      }
      await this.#child.status;
    }
    this.#sweepProcesses();
    const mounts = (await sh("findmnt", "-rn", "-o", "TARGET").catch(() => "")).split("\n")
      .filter((m) => m.startsWith(`${this.work}/`)).sort().reverse();
    for (const m of mounts) await sh("umount", m).catch(() => sh("umount", "-l", m).catch(() => {}));
    this.#removeCgroups();
    for (const p of this.#made) {
      for (const d of p === "/run/containerd" ? ["/run/containerd/s", p] : [`${p}/results`, p]) {
        try {
          Deno.removeSync(d); // only when empty: anything else there is not ours
        } catch { /* absent, or not empty */ }
      }
    }
    await Deno.remove(this.work, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
  }

  /** At process exit (a test that died): kill containerd and what it started, nothing more. */
  killSync(): void {
    this.#signal("SIGKILL");
    this.#sweepProcesses();
  }

  #signal(sig: Deno.Signal): void {
    try {
      // Only while not reaped: after that the pid may be someone else's.
      if (this.#pid && !this.#exited) Deno.kill(this.#pid, sig);
    } catch { /* gone */ }
  }

  /** SIGKILLs the shims this containerd started (their argv names our socket) and our cgroups' processes. */
  #sweepProcesses(): void {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
        const i = argv.indexOf("-address");
        if (i >= 0 && argv[i + 1] === this.sock) Deno.kill(Number(e.name), "SIGKILL");
      } catch { /* exited while we looked */ }
    }
    for (const dir of this.#cgroupDirs()) {
      for (const pid of readProcs(dir)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  }

  /** Our cgroup parent in each cgroup v1 hierarchy, and in the v2 tree when that is mounted instead. */
  #cgroupDirs(): string[] {
    const dirs: string[] = [];
    const root = "/sys/fs/cgroup";
    if (exists(`${root}${this.cgroupParent}`)) dirs.push(`${root}${this.cgroupParent}`);
    try {
      for (const h of Deno.readDirSync(root)) {
        if (h.isDirectory && exists(`${root}/${h.name}${this.cgroupParent}`)) {
          dirs.push(`${root}/${h.name}${this.cgroupParent}`);
        }
      }
    } catch { /* no cgroup fs */ }
    return dirs;
  }

  #removeCgroups(): void {
    for (const dir of this.#cgroupDirs()) {
      for (const d of subdirsDeepestFirst(dir)) {
        try {
          Deno.removeSync(d);
        } catch { /* still busy or gone */ }
      }
    }
  }
}

function readProcs(dir: string): number[] {
  const out: number[] = [];
  for (const d of subdirsDeepestFirst(dir)) {
    try {
      out.push(...Deno.readTextFileSync(`${d}/cgroup.procs`).split("\n").filter(Boolean).map(Number));
    } catch { /* gone */ }
  }
  return out;
}

function subdirsDeepestFirst(dir: string): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory) out.push(...subdirsDeepestFirst(`${dir}/${e.name}`));
    }
  } catch {
    return out;
  }
  out.push(dir);
  return out;
}

/** containerd's config.toml (version 2): everything under `w`, CRI with our CNI dirs and offline image. */
function containerdConfig(w: string, sock: string): string {
  return `version = 2
root = "${w}/root"
state = "${w}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${sock}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${w}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${w}/cni-bin"
    conf_dir = "${w}/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${w}/state/runc"
        SystemdCgroup = false
`;
}

/** Runs a command inside a network namespace given by path (a CRI pod's), with nsenter --net only. */
export function inNetns(netns: string, cmd: string, ...args: string[]): Promise<string> {
  return sh("nsenter", `--net=${netns}`, cmd, ...args);
}

/** Whether one ICMP echo from the pod's namespace to `ip` is answered. */
export async function pings(netns: string, ip: string): Promise<boolean> {
  try {
    await inNetns(netns, "ping", "-c1", "-W2", ip.split("/")[0]);
    return true;
  } catch (e) {
    if (e instanceof ShError) return false;
    throw e;
  }
}
