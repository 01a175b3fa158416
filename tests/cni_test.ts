import assert from "node:assert/strict";
import { binDir, killAfter, runPlugin } from "./lib/plugin.ts";
import { sh } from "./lib/netns.ts";
import { convertResult, parseResult, type Result, toVersion } from "../mod/cni/result.ts";
import { checkIfname, parseCniArgs } from "../mod/cni/env.ts";
import { ifnameProblem } from "../mod/links/names.ts";
import { SUPPORTED_VERSIONS } from "../mod/cni/version.ts";
import { PROGRAM_VERSION, ROLE_NAMES, ROLES } from "../mod/role.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ADD_ENV = { command: "ADD", containerId: "c0ffee", netns: "/proc/self/ns/net", ifname: "eth0" };

Deno.test("VERSION answers under every role name, with no config on stdin", async () => {
  for (const role of ROLE_NAMES) {
    const r = await runPlugin(role, { command: "VERSION" });
    assert.equal(r.code, 0, `${role}: ${r.stdout}${r.stderr}`);
    assert.deepEqual(r.json, { cniVersion: "1.1.0", supportedVersions: [...SUPPORTED_VERSIONS] });
  }
});

Deno.test("VERSION answers libcni's probe, which sends a cniVersion and no name", async () => {
  const r = await runPlugin("anchor", {
    command: "VERSION",
    conf: { cniVersion: "0.4.0" },
    netns: "dummy",
    ifname: "dummy",
  });
  assert.equal(r.code, 0);
  assert.equal(r.json.cniVersion, "1.1.0");
});

Deno.test("the role comes from argv[0]; under another name the first argument names it", async () => {
  const viaArg = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", new URL("../main.ts", import.meta.url).pathname, "octopus", "--version"],
    stdout: "piped",
  }).output();
  assert.match(new TextDecoder().decode(viaArg.stdout), /^octopus 0\.1\.0 /);
  for (const role of ROLE_NAMES) {
    const r = await new Deno.Command(`${binDir()}/${role}`, { args: ["--version"], stdout: "piped" })
      .output();
    assert.equal(new TextDecoder().decode(r.stdout).split(" ")[0], role);
  }
});

Deno.test("--help and --version never wait on stdin", async () => {
  for (const flag of ["--help", "--version"]) {
    const child = new Deno.Command(`${binDir()}/anchor`, { args: [flag], stdin: "piped", stdout: "piped" })
      .spawn();
    const timer = killAfter(child, 10_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.code, 0, `${flag} did not exit by itself`);
    await child.stdin.close().catch(() => {});
  }
});

Deno.test("every command answers a usage mistake with its own usage line on stderr and exit 2", async () => {
  const run = async (role: string, args: string[]) => {
    const out = await new Deno.Command(`${binDir()}/${role}`, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  const cases: [string, string[], RegExp][] = [];
  for (const name of ROLE_NAMES) {
    for (const command of Object.keys((await ROLES[name]()).role.commands)) {
      cases.push([name, [command, "--bogus"], new RegExp(`--bogus\\W[^]*\\nusage: ${name} ${command} `)]);
    }
  }
  cases.push(
    [
      "ratchet",
      ["status", "--etcd-endpoints"],
      /'--etcd-endpoints <value>' argument missing[^]*usage: ratchet status/,
    ],
    ["ratchet", ["apply"], /expected 1 argument, got 0\nusage: ratchet apply/],
    ["anchor", ["pool", "frob"], /unknown anchor pool command "frob"\nusage: anchor pool set/],
    ["ratchet", ["demo", "up"], /unknown demo command "up"\nusage: ratchet demo/],
  );
  for (const [role, args, stderr] of cases) {
    const r = await run(role, args);
    assert.equal(r.code, 2, `${role} ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, stderr, `${role} ${args.join(" ")}`);
  }
});

Deno.test("each registered role module names itself as the registry does", async () => {
  for (const name of ROLE_NAMES) assert.equal((await ROLES[name]()).role.name, name);
});

Deno.test("one interface-name rule: checkIfname throws (code 4) exactly when ifnameProblem names a problem", () => {
  const good = ["eth0", "acr00", "x".repeat(15), "é".repeat(7) + "x", "in1.2", "a-b_c"];
  const bad = ["", ".", "..", "a/b", "a:b", "a b", "a\tb", "x".repeat(16), "é".repeat(8)];
  for (const name of good) {
    assert.equal(ifnameProblem(name), "", name);
    checkIfname(name);
  }
  for (const name of bad) {
    const problem = ifnameProblem(name);
    assert.notEqual(problem, "", JSON.stringify(name));
    assert.throws(() => checkIfname(name), (e: any) => e.code === 4 && e.details === problem);
  }
});

Deno.test("PROGRAM_VERSION matches deno.json", () => {
  const conf = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  assert.equal(PROGRAM_VERSION, conf.version);
});

/** The smallest valid anchor conf at 1.1.0: each case below breaks only the one thing it names. */
const CONF_1_1 = { cniVersion: "1.1.0", name: "n", type: "anchor" };

const errorCases: { what: string; call: Parameters<typeof runPlugin>[1]; code: number }[] = [
  { what: "garbage on stdin", call: { ...ADD_ENV, conf: "garbage{" }, code: 6 },
  { what: "empty stdin", call: { ...ADD_ENV, conf: "" }, code: 6 },
  { what: "a JSON array", call: { ...ADD_ENV, conf: "[1,2]" }, code: 6 },
  {
    what: "an unsupported version",
    call: { ...ADD_ENV, conf: { cniVersion: "0.5.0", name: "n", type: "anchor" } },
    code: 1,
  },
  {
    what: "a cniVersion that is not a string",
    call: { ...ADD_ENV, conf: { cniVersion: 1, name: "n", type: "anchor" } },
    code: 1,
  },
  {
    what: "CHECK under 0.3.1",
    call: { ...ADD_ENV, command: "CHECK", conf: { cniVersion: "0.3.1", name: "n", type: "anchor" } },
    code: 1,
  },
  {
    what: "GC under 1.0.0",
    call: { command: "GC", conf: { cniVersion: "1.0.0", name: "n", type: "anchor" } },
    code: 1,
  },
  { what: "an unknown verb", call: { ...ADD_ENV, command: "FROB", conf: CONF_1_1 }, code: 4 },
  { what: "no container id", call: { ...ADD_ENV, containerId: "", conf: CONF_1_1 }, code: 3 },
  { what: "a bad container id", call: { ...ADD_ENV, containerId: "-bad/id", conf: CONF_1_1 }, code: 4 },
  // Each ifname the spec's rules refuse is code 4.
  ...([
    ["an ifname over 15 bytes", "a234567890123456"],
    ["ifname ..", ".."],
    ["ifname with a slash", "a/b"],
    ["ifname with a colon", "a:b"],
    ["ifname with a space", "a b"],
  ] as const).map(([what, ifname]) => ({ what, call: { ...ADD_ENV, ifname, conf: CONF_1_1 }, code: 4 })),
  { what: "no netns on ADD", call: { ...ADD_ENV, netns: "", conf: CONF_1_1 }, code: 4 },
  {
    what: "a netns that does not exist",
    call: {
      ...ADD_ENV,
      netns: "/run/netns/does-not-exist-x",
      conf: CONF_1_1,
    },
    code: 4,
  },
  {
    what: "a netns path that is a plain file",
    call: { ...ADD_ENV, netns: "/etc/hostname", conf: CONF_1_1 },
    code: 4,
  },
  {
    what: "a netns path that is another namespace kind",
    call: {
      ...ADD_ENV,
      netns: "/proc/self/ns/uts",
      conf: CONF_1_1,
    },
    code: 4,
  },
  { what: "an unknown CNI_ARGS key", call: { ...ADD_ENV, cniArgs: "FOO=bar", conf: CONF_1_1 }, code: 4 },
  {
    what: "a malformed CNI_ARGS pair",
    call: {
      ...ADD_ENV,
      cniArgs: "IgnoreUnknown=1;novalue",
      conf: CONF_1_1,
    },
    code: 4,
  },
  {
    what: "a prevResult in an unsupported version",
    call: {
      ...ADD_ENV,
      conf: { cniVersion: "1.1.0", name: "n", type: "anchor", prevResult: { cniVersion: "0.0.9" } },
    },
    code: 1,
  },
];

for (const c of errorCases) {
  Deno.test(`error: ${c.what} gives code ${c.code}, a spec error object and a non-zero exit`, async () => {
    const r = await runPlugin("anchor", c.call);
    assert.notEqual(r.code, 0);
    assert.equal(r.json?.code, c.code, r.stdout + r.stderr);
    assert.equal(typeof r.json.msg, "string");
    assert.ok(r.json.cniVersion, "the error names a cniVersion");
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, "no stack trace");
  });
}

Deno.test("CNI_ARGS: IgnoreUnknown lets unknown keys through; Kubernetes keys are always known", () => {
  const args = parseCniArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;FOO=a=b");
  assert.equal(args.get("K8S_POD_NAME"), "web-0");
  assert.equal(args.get("FOO"), "a=b");
  assert.equal(parseCniArgs("K8S_POD_NAMESPACE=x").get("K8S_POD_NAMESPACE"), "x");
});

const full: Result = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "eth0", mac: "0a:00:00:00:00:01", mtu: 1400, sandbox: "/run/netns/x" }, {
    name: "in1",
  }],
  ips: [{ address: "10.0.1.5/24", gateway: "10.0.1.1", interface: 0 }, {
    address: "fd00::5/64",
    interface: 1,
  }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.0.1.1", priority: 10, mtu: 1400 }],
  dns: { nameservers: ["10.0.0.10"], search: ["svc.cluster.local"] },
};

Deno.test("results convert down to every version with libcni's rules, and read back", () => {
  for (const v of SUPPORTED_VERSIONS) {
    const out = toVersion(full, v) as any;
    assert.equal(out.cniVersion, v);
    assert.deepEqual(out.dns, full.dns, "DNS survives in every version");
    const back = parseResult(JSON.parse(JSON.stringify(out)));
    if (v === "0.1.0" || v === "0.2.0") {
      // types040 convertTo02x: the first address of each family, routes by family with dst and gw only.
      assert.deepEqual(out, {
        cniVersion: v,
        ip4: { ip: "10.0.1.5/24", gateway: "10.0.1.1", routes: [{ dst: "0.0.0.0/0", gw: "10.0.1.1" }] },
        ip6: { ip: "fd00::5/64" },
        dns: full.dns,
      });
      assert.deepEqual(back.ips, [{ address: "10.0.1.5/24", gateway: "10.0.1.1" }, {
        address: "fd00::5/64",
      }]);
      assert.deepEqual(back.routes, [{ dst: "0.0.0.0/0", gw: "10.0.1.1" }]);
      assert.equal(back.interfaces, undefined);
      continue;
    }
    const old = v.startsWith("0.");
    assert.deepEqual(out.ips.map((ip: any) => ip.version), old ? ["4", "6"] : [undefined, undefined]);
    // types100 convertTo04x keeps name, mac and sandbox; 1.0.0 and 1.1.0 share one type, so all survive.
    assert.equal(out.interfaces[0].mtu, old ? undefined : 1400);
    assert.equal(out.interfaces[0].sandbox, "/run/netns/x");
    // Routes are copied whole by every converter but the one to 0.2.0.
    assert.equal(out.routes[0].priority, 10);
    assert.deepEqual(back.ips, full.ips);
    assert.deepEqual(back.dns, full.dns);
    assert.equal(back.interfaces?.[1].name, "in1");
  }
});

Deno.test("a 0.2.0 result (a prevResult or a delegate's answer) reads up into every later version", () => {
  const raw = {
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.2/16", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
    ip6: { ip: "fd00::2/64", routes: [{ dst: "::/0", gw: "fd00::1" }] },
    dns: { nameservers: ["10.1.0.10"] },
  };
  assert.deepEqual(convertResult(raw, "0.4.0"), {
    cniVersion: "0.4.0",
    ips: [{ version: "4", address: "10.1.0.2/16", gateway: "10.1.0.1" }, {
      version: "6",
      address: "fd00::2/64",
    }],
    routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "fd00::1" }],
    dns: { nameservers: ["10.1.0.10"] },
  });
  assert.deepEqual(convertResult(raw, "1.1.0"), {
    cniVersion: "1.1.0",
    ips: [{ address: "10.1.0.2/16", gateway: "10.1.0.1" }, { address: "fd00::2/64" }],
    routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "fd00::1" }],
    dns: { nameservers: ["10.1.0.10"] },
  });
  assert.deepEqual(convertResult(raw, "0.1.0"), { ...raw, cniVersion: "0.1.0" }, "down again, nothing lost");
});

Deno.test("a result with no address is written as 0.1.0/0.2.0 with its version and DNS only", () => {
  const r = { cniVersion: "1.0.0", interfaces: [{ name: "in1" }], dns: { nameservers: ["10.0.0.10"] } };
  for (const v of ["0.1.0", "0.2.0"]) {
    assert.deepEqual(convertResult(r, v), { cniVersion: v, dns: { nameservers: ["10.0.0.10"] } });
  }
  assert.deepEqual(convertResult(r, "0.3.0").interfaces, [{ name: "in1" }]);
});

Deno.test("Debian's loopback labels its later-shaped result 0.1.0: what it reports is read all the same", () => {
  const r = parseResult({
    cniVersion: "0.1.0",
    interfaces: [{ name: "lo", mac: "00:00:00:00:00:00", sandbox: "/run/netns/p" }],
    ips: [{ interface: 0, address: "127.0.0.1/8" }, { interface: 0, address: "::1/128" }],
    dns: {},
  });
  assert.deepEqual(toVersion(r, "0.1.0"), {
    cniVersion: "0.1.0",
    ip4: { ip: "127.0.0.1/8" },
    ip6: { ip: "::1/128" },
  });
});

Deno.test("a 0.3.1 result with ip versions reads into the 1.1.0 shape", () => {
  const r = parseResult({
    cniVersion: "0.3.1",
    ips: [{ version: "4", address: "10.1.0.2/16", interface: 0 }],
    interfaces: [{ name: "eth0" }],
  });
  assert.deepEqual(r.ips, [{ address: "10.1.0.2/16", interface: 0 }]);
  assert.deepEqual(toVersion(r, "1.0.0"), {
    cniVersion: "1.0.0",
    interfaces: [{ name: "eth0" }],
    ips: [{ address: "10.1.0.2/16", interface: 0 }],
  });
});

async function execDelegate(node: string, req: Record<string, unknown>): Promise<any> {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      node,
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      new URL("./lib/exec_plugin_main.ts", import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(req)));
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(text, new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

Deno.test("delegate exec runs Debian's loopback and bridge+host-local plugins in throwaway namespaces", async () => {
  const tag = crypto.randomUUID().slice(0, 6);
  const node = `cnit-node-${tag}`;
  const pod = `cnit-pod-${tag}`;
  const dataDir = Deno.makeTempDirSync();
  await sh("ip", "netns", "add", node);
  try {
    await sh("ip", "netns", "add", pod);
    const base = { containerId: `ctr-${tag}`, netns: `/run/netns/${pod}`, path: ["/usr/lib/cni"] };
    const lo = await execDelegate(node, {
      ...base,
      command: "ADD",
      ifname: "lo",
      conf: { cniVersion: "1.0.0", name: "lo", type: "loopback" },
    });
    assert.equal(lo.error, undefined, JSON.stringify(lo));
    const loLink = JSON.parse(await sh("ip", "-n", pod, "-j", "link", "show", "lo"))[0];
    assert.ok(loLink.flags.includes("UP"), "loopback is up");

    const bridgeConf = {
      cniVersion: "1.0.0",
      name: "cnitest",
      type: "bridge",
      bridge: "cnitbr0",
      isGateway: true,
      ipam: { type: "host-local", subnet: "10.199.0.0/24", dataDir },
    };
    const add = await execDelegate(node, { ...base, command: "ADD", ifname: "eth0", conf: bridgeConf });
    assert.equal(add.error, undefined, JSON.stringify(add));
    const address = add.result.ips[0].address as string;
    assert.match(address, /^10\.199\.0\.\d+\/24$/);
    const addrs = JSON.parse(await sh("ip", "-n", pod, "-j", "addr", "show", "eth0"))[0].addr_info;
    assert.ok(
      addrs.some((a: any) => `${a.local}/${a.prefixlen}` === address),
      "the pod has the address host-local gave",
    );
    const bridge = JSON.parse(await sh("ip", "-n", node, "-j", "link", "show", "cnitbr0"))[0];
    assert.equal(bridge.ifname, "cnitbr0", "the bridge lives in the simulated node");

    const missing = await execDelegate(node, {
      ...base,
      command: "ADD",
      ifname: "eth1",
      conf: { ...bridgeConf, type: "no-such-plugin" },
    });
    assert.equal(missing.error.code, 7);
    assert.match(missing.error.msg, /no-such-plugin/);
    const refused = await execDelegate(node, {
      ...base,
      command: "ADD",
      ifname: "eth0",
      conf: { ...bridgeConf, ipam: { type: "host-local" } },
    });
    assert.ok(
      refused.error.code > 0 && refused.error.msg.startsWith("plugin bridge ADD failed"),
      JSON.stringify(refused),
    );

    const del = await execDelegate(node, { ...base, command: "DEL", ifname: "eth0", conf: bridgeConf });
    assert.equal(del.error, undefined, JSON.stringify(del));
    const after = JSON.parse(await sh("ip", "-n", pod, "-j", "link", "show"));
    assert.ok(!after.some((l: any) => l.ifname === "eth0"), "DEL removed the pod's interface");
  } finally {
    await sh("ip", "netns", "del", pod).catch(() => {});
    await sh("ip", "netns", "del", node).catch(() => {});
    Deno.removeSync(dataDir, { recursive: true });
  }
});

for (const [what, version] of [["without cniVersion", undefined], ['with "cniVersion": ""', ""]] as const) {
  Deno.test(`a config ${what} is 0.1.0, as libcni reads it: anchor answers in the 0.1.0 shape`, async () => {
    const store = Deno.makeTempDirSync({ prefix: "rt-cni-store-" });
    try {
      const seed = (...args: string[]) =>
        sh(Deno.execPath(), "run", "-A", "--quiet", MAIN, "anchor", ...args, "--store", store);
      await seed("pool", "set", "default", "10.0.1.[5-9]");
      await seed("gw", "set", "10.0.1.0/24", "10.0.1.1");
      const conf = {
        ...(version === undefined ? {} : { cniVersion: version }),
        name: "n1",
        type: "anchor",
        ipam: { type: "anchor", store },
        args: { cni: { "cni.anchor.org/subnet": "10.0.1.0/24" } },
        dns: { nameservers: ["10.0.1.53"] },
      };
      const r = await runPlugin("anchor", { ...ADD_ENV, conf });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(r.json, {
        cniVersion: "0.1.0",
        ip4: { ip: "10.0.1.5/24", gateway: "10.0.1.1", routes: [{ dst: "0.0.0.0/0", gw: "10.0.1.1" }] },
        dns: { nameservers: ["10.0.1.53"] },
      });
    } finally {
      Deno.removeSync(store, { recursive: true });
    }
  });
}

Deno.test("log_file: a missing directory is created; one that cannot be is said once on stderr, and ADD still succeeds", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "rt-cni-log-" });
  try {
    const store = `${dir}/store`;
    const seed = (...args: string[]) =>
      sh(Deno.execPath(), "run", "-A", "--quiet", MAIN, "anchor", ...args, "--store", store);
    await seed("pool", "set", "default", "10.0.1.[5-9]");
    await seed("gw", "set", "10.0.1.0/24", "10.0.1.1");
    Deno.writeTextFileSync(`${dir}/plain`, "a file, not a directory");
    const add = (id: string, logFile: string) =>
      runPlugin("anchor", {
        ...ADD_ENV,
        containerId: id,
        conf: {
          cniVersion: "1.0.0",
          name: "n1",
          type: "anchor",
          log_file: logFile,
          log_level: "debug",
          ipam: { type: "anchor", store },
          args: { cni: { "cni.anchor.org/subnet": "10.0.1.0/24" } },
        },
      });

    const made = await add("c1", `${dir}/new/deeper/anchor.log`);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    const lines = Deno.readTextFileSync(`${dir}/new/deeper/anchor.log`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.ok(lines.some((l) => l.msg === "ADD done" && l.container === "c1"), "the log was written");
    assert.equal(made.stderr, "");

    const cannot = await add("c2", `${dir}/plain/sub/anchor.log`);
    assert.equal(cannot.code, 0, cannot.stdout + cannot.stderr);
    assert.equal(cannot.json.ips[0].address, "10.0.1.6/24", "ADD succeeded all the same");
    const said = cannot.stderr.trim().split("\n");
    assert.equal(said.length, 1, cannot.stderr);
    assert.match(said[0], new RegExp(`^log_file ${dir}/plain/sub/anchor.log cannot be written`));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("GC's grace period: younger records are kept, older and timeless ones are not; a bad value is code 7", async () => {
  const { gcGrace } = await import("../mod/cni/gc.ts");
  const now = Date.parse("2026-11-29T10:00:00.000Z");
  const grace = gcGrace({}, "ipam");
  assert.equal(grace.seconds, 300);
  assert.equal(grace.isYoung("2026-11-29T09:55:00.001Z", now), true, "299.999 s old");
  assert.equal(grace.isYoung("2026-11-29T09:55:00.000Z", now), false, "300 s old");
  assert.equal(grace.isYoung(undefined, now), false, "no time: no known age");
  assert.equal(grace.isYoung("yesterday-ish", now), false);
  assert.equal(gcGrace({ gc_grace_seconds: 0 }, "ipam").isYoung(new Date(now).toISOString(), now), false);
  for (const bad of [-1, "60", Infinity]) {
    assert.throws(
      () => gcGrace({ gc_grace_seconds: bad }, "ipam"),
      (e: any) => e.code === 7 && /ipam\.gc_grace_seconds/.test(e.message),
    );
  }
});
