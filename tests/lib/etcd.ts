/**
 * A throwaway etcd for tests: Debian's /usr/bin/etcd on free 127.0.0.1 ports with a temp data dir.
 * Nothing listens beyond loopback, and stop() removes every trace.
 */
import { makeCa, makeSignedCert } from "./tls.ts";

/** A running test etcd. */
export interface TestEtcd {
  /** The client URL, e.g. http://127.0.0.1:41234 (https:// with `tls`). */
  endpoint: string;
  /** With `tls`: the CA that signed the server, and a client certificate etcd demands. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** The etcd log file, for reading when a test fails. */
  logFile: string;
  /** Terminates etcd and removes its data directory. */
  stop(): Promise<void>;
  /** SIGKILLs etcd at once, keeping its data, to test failures; restart() brings it back. */
  kill(): void;
  /** Starts etcd again on the same ports and data after kill(), and waits until it is healthy. */
  restart(): Promise<void>;
}

const ETCD = "/usr/bin/etcd";
const HEALTHY_WITHIN_MS = 15_000;

/** A port the kernel just handed out on 127.0.0.1 and nothing holds now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts etcd and resolves once it answers /health.
 *
 * @example
 * ```ts
 * const etcd = await startEtcd();
 * try {
 *   const store = await openStore({ kind: "etcd", endpoints: [etcd.endpoint], timeoutMs: 2000 });
 * } finally {
 *   await etcd.stop();
 * }
 * ```
 */
export async function startEtcd(options: EtcdOptions = {}): Promise<TestEtcd> {
  // freePort's port is free when asked, but other test runs on this machine may take it before etcd binds
  // it; etcd then exits at once, and fresh ports are the cure.
  for (let attempt = 1;; attempt++) {
    try {
      return await startEtcdOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/exited before becoming healthy/.test(String(e))) throw e;
    }
  }
}

/** How a test etcd serves. */
export interface EtcdOptions {
  /** Serve clients over TLS and demand a client certificate. */
  tls?: boolean;
  /** The server certificate's subjectAltName; a wrong one lets a test see verification fail. */
  serverAltName?: string;
}

async function startEtcdOnce(options: EtcdOptions): Promise<TestEtcd> {
  const dir = await Deno.makeTempDir({ prefix: "rt-etcd-" });
  const endpoint = `${options.tls ? "https" : "http"}://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  // Health is read on a plain-http metrics listener, so the check needs no client certificate.
  const metrics = `http://127.0.0.1:${freePort()}`;
  const logFile = `${dir}/etcd.log`;
  let tls: TestEtcd["tls"];
  const tlsArgs: string[] = [];
  if (options.tls) {
    try {
      const pki = await makePki(dir, options.serverAltName ?? "IP:127.0.0.1");
      tls = { caFile: pki.ca, certFile: pki.client.cert, keyFile: pki.client.key };
      tlsArgs.push(
        "--cert-file",
        pki.server.cert,
        "--key-file",
        pki.server.key,
        "--client-cert-auth",
        "--trusted-ca-file",
        pki.ca,
      );
    } catch (e) {
      await Deno.remove(dir, { recursive: true });
      throw e;
    }
  }
  const args = [
    ...tlsArgs,
    ...memberArgs({
      name: "rt",
      dataDir: `${dir}/data`,
      client: endpoint,
      peer,
      metrics,
      cluster: `rt=${peer}`,
      token: dir,
      logFile,
    }),
  ];
  let child: Deno.ChildProcess | undefined;
  const launch = async () => {
    child = new Deno.Command(ETCD, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
    try {
      await waitHealthy(metrics, child);
    } catch (e) {
      await halt("SIGKILL");
      throw new Error(`${(e as Error).message}; log ${logFile}:\n${await tail(logFile)}`);
    }
  };
  const halt = (signal: Deno.Signal) => {
    const running = child;
    child = undefined;
    return stopProcess(running, signal);
  };
  try {
    await launch();
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  return {
    endpoint,
    tls,
    logFile,
    async stop() {
      await halt("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    },
    kill() {
      const running = child;
      child = undefined;
      running?.kill("SIGKILL");
      // Reap it in the background so no zombie and no pending op is left behind.
      void running?.status;
    },
    async restart() {
      await halt("SIGKILL");
      await launch();
    },
  };
}

/** A running test cluster of several etcd members on loopback. */
export interface TestEtcdCluster {
  /** Each member's client URL, in member order. */
  endpoints: string[];
  /** The index of the member that leads now (asked of any live member). */
  leader(): Promise<number>;
  /** SIGKILLs member `i`, keeping its data. */
  kill(i: number): void;
  /** Terminates every member and removes the data. */
  stop(): Promise<void>;
}

/**
 * Starts an etcd cluster of `size` members on free 127.0.0.1 ports and resolves once all are healthy.
 *
 * @example
 * ```ts
 * const cluster = await startEtcdCluster(3);
 * try {
 *   cluster.kill(await cluster.leader());
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export async function startEtcdCluster(size: number): Promise<TestEtcdCluster> {
  const dir = await Deno.makeTempDir({ prefix: "rt-etcd-cluster-" });
  const members = Array.from({ length: size }, (_, i) => ({
    name: `m${i}`,
    client: `http://127.0.0.1:${freePort()}`,
    peer: `http://127.0.0.1:${freePort()}`,
    metrics: `http://127.0.0.1:${freePort()}`,
    child: undefined as Deno.ChildProcess | undefined,
  }));
  const cluster = members.map((m) => `${m.name}=${m.peer}`).join(",");
  const halt = async (signal: Deno.Signal) => {
    await Promise.all(members.map((m) => {
      const running = m.child;
      m.child = undefined;
      return stopProcess(running, signal);
    }));
  };
  try {
    for (const m of members) {
      m.child = new Deno.Command(ETCD, {
        args: memberArgs({
          ...m,
          dataDir: `${dir}/${m.name}`,
          cluster,
          token: dir,
          logFile: `${dir}/${m.name}.log`,
        }),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    }
    await Promise.all(members.map((m) => waitHealthy(m.metrics, m.child!)));
  } catch (e) {
    await halt("SIGKILL");
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  return {
    endpoints: members.map((m) => m.client),
    async leader() {
      for (const m of members) {
        if (!m.child) continue;
        try {
          const r = await fetch(`${m.client}/v3/maintenance/status`, {
            method: "POST",
            body: "{}",
            signal: AbortSignal.timeout(1000),
          });
          const status = await r.json() as { header?: { member_id?: string }; leader?: string };
          if (!status.leader) continue;
          const ids = await Promise.all(members.map(async (x) => {
            if (!x.child) return undefined;
            const s = await (await fetch(`${x.client}/v3/maintenance/status`, { method: "POST", body: "{}" }))
              .json() as { header?: { member_id?: string } };
            return s.header?.member_id;
          }));
          const index = ids.indexOf(status.leader);
          if (index >= 0) return index;
        } catch {
          // This member is down or electing; ask the next.
        }
      }
      throw new Error("no member knows a leader");
    },
    kill(i: number) {
      const running = members[i].child;
      members[i].child = undefined;
      running?.kill("SIGKILL");
      void running?.status;
    },
    async stop() {
      await halt("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The flags of one etcd member listening on loopback URLs, logging to a file. */
function memberArgs(m: {
  name: string;
  dataDir: string;
  client: string;
  peer: string;
  metrics: string;
  /** `--initial-cluster`: name=peerURL,... */
  cluster: string;
  token: string;
  logFile: string;
}): string[] {
  return [
    ...["--name", m.name, "--data-dir", m.dataDir],
    ...["--listen-client-urls", m.client, "--advertise-client-urls", m.client],
    ...["--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer],
    ...["--listen-metrics-urls", m.metrics],
    ...["--initial-cluster", m.cluster, "--initial-cluster-state", "new", "--initial-cluster-token", m.token],
    ...["--logger", "zap", "--log-outputs", m.logFile],
  ];
}

/** Signals a process and waits for it to end; one that already exited is fine. */
async function stopProcess(running: Deno.ChildProcess | undefined, signal: Deno.Signal): Promise<void> {
  if (!running) return;
  try {
    running.kill(signal);
  } catch {
    // Already exited: nothing to stop.
  }
  await running.status;
}

async function waitHealthy(metrics: string, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  void child.status.then(() => (exited = true));
  const deadline = Date.now() + HEALTHY_WITHIN_MS;
  let last = "";
  while (Date.now() < deadline) {
    if (exited) throw new Error(`etcd exited before becoming healthy`);
    try {
      const res = await fetch(`${metrics}/health`, { signal: AbortSignal.timeout(1000) });
      last = await res.text();
      if (res.ok && JSON.parse(last).health === "true") return;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`etcd (metrics ${metrics}) not healthy within ${HEALTHY_WITHIN_MS} ms (last: ${last})`);
}

async function tail(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

/** A throwaway CA, a server certificate for `serverAltName`, and a client certificate (tests/lib/tls.ts). */
async function makePki(dir: string, serverAltName: string) {
  const ca = await makeCa(dir, "ca", "rt-test-ca");
  // etcd 3.4's JSON gateway dials the server's own gRPC port with the server certificate as its client
  // certificate, so with --client-cert-auth that certificate must allow client authentication too.
  const server = await makeSignedCert(
    dir,
    "server",
    "/CN=rt-test-server",
    `subjectAltName=${serverAltName}\nextendedKeyUsage=serverAuth,clientAuth`,
    ca,
  );
  const client = await makeSignedCert(dir, "client", "/CN=rt-test-client", "extendedKeyUsage=clientAuth", ca);
  return { ca: ca.cert, server, client };
}
