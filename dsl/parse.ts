/**
 * Statements to model. Syntax and per-token checks happen here; checks that need the whole file
 * (references, duplicates, subnets) are in check.ts.
 */
import { formatIp, parseIpOrReason } from "../mod/ip/addr.ts";
import { addrOf, type Cidr, formatCidr, networkOf, parseCidrOrReason } from "../mod/ip/cidr.ts";
import { dnsLabelProblem, ifnameProblem } from "../mod/links/names.ts";
import { type Line, type Token, tokenizeLine } from "./lexer.ts";
import type { Reporter } from "./report.ts";
import type { LinkEndDecl, Pos, Topology } from "./types.ts";

const at = (line: number, t: Token): Pos => ({ line, col: t.col });
const after = (line: number, t: Token): Pos => ({ line, col: t.col + t.text.length + 1 });

class StatementParser {
  constructor(readonly l: Line, readonly r: Reporter) {}

  pos(t: Token): Pos {
    return at(this.l.line, t);
  }

  /** The token at `i`, or an error placed just after the last token saying what was expected. */
  need(i: number, what: string): Token | undefined {
    const t = this.l.tokens[i];
    if (!t) {
      const last = this.l.tokens[this.l.tokens.length - 1];
      this.r.error(after(this.l.line, last), "syntax", `${this.l.tokens[0].text}: expected ${what}`);
    }
    return t;
  }

  /** Reports tokens past the statement's end. */
  end(i: number): void {
    const t = this.l.tokens[i];
    if (t) this.r.error(this.pos(t), "syntax", `${this.l.tokens[0].text}: unexpected "${t.text}"`);
  }

  name(t: Token, what: string): string {
    const p = dnsLabelProblem(t.text);
    if (p) this.r.error(this.pos(t), "bad-name", `invalid ${what} name "${t.text}": ${p}`);
    return t.text;
  }

  ifname(t: Token, text = t.text, pos = this.pos(t)): string {
    const p = ifnameProblem(text);
    if (p) this.r.error(pos, "bad-ifname", `invalid interface name "${text}": ${p}`);
    return text;
  }

  ip(t: Token): string | undefined {
    const a = parseIpOrReason(t.text);
    if (typeof a === "string") {
      this.r.error(this.pos(t), "bad-address", `invalid address "${t.text}": ${a}`);
      return undefined;
    }
    return formatIp(a);
  }

  cidr(t: Token): Cidr | undefined {
    const c = parseCidrOrReason(t.text);
    if (typeof c === "string") {
      const hint = c === "missing /prefix" ? " (write the prefix length, as in 192.168.2.100/24)" : "";
      this.r.error(this.pos(t), "bad-cidr", `invalid address/prefix "${t.text}": ${c}${hint}`);
      return undefined;
    }
    return c;
  }

  /** `KIND NAME option value...` with one required option; reports what is missing. */
  declaration(kind: string, allowed: string[], required: string, value: string) {
    const name = this.need(1, `a ${kind} name`);
    const opts = name && this.options(2, allowed);
    if (!name || !opts) return undefined;
    const req = opts.get(required);
    if (!req) {
      const last = this.l.tokens[this.l.tokens.length - 1];
      this.r.error(
        after(this.l.line, last),
        "syntax",
        `${kind} ${name.text}: expected "${required} ${value}"`,
      );
      return undefined;
    }
    return { name, opts, required: req };
  }

  /** Reads `keyword value` pairs in any order from `i`; each keyword at most once. */
  options(i: number, allowed: string[]): Map<string, Token> | undefined {
    const out = new Map<string, Token>();
    const toks = this.l.tokens;
    let ok = true;
    while (i < toks.length) {
      const k = toks[i];
      if (!allowed.includes(k.text)) {
        this.r.error(
          this.pos(k),
          "syntax",
          `${toks[0].text}: unexpected "${k.text}", expected ${allowed.join(" or ")}`,
        );
        return undefined;
      }
      if (out.has(k.text)) {
        this.r.error(this.pos(k), "syntax", `${toks[0].text}: "${k.text}" given twice`);
        ok = false;
      }
      const v = this.need(i + 1, `a value after "${k.text}"`);
      if (!v) return undefined;
      if (!out.has(k.text)) out.set(k.text, v);
      i += 2;
    }
    return ok ? out : undefined;
  }
}

type Handler = (p: StatementParser, t: Token[], topo: Topology) => void;

const handlers: Record<string, Handler> = {
  cluster(p, t, topo) {
    const name = p.need(1, "a cluster name");
    if (!name) return;
    p.end(2);
    const decl = { name: p.name(name, "cluster"), pos: p.pos(t[0]) };
    if (topo.cluster) {
      p.r.error(p.pos(name), "duplicate-name", `cluster is already named on line ${topo.cluster.pos.line}`);
    } else topo.cluster = decl;
  },

  node(p, t, topo) {
    const d = p.declaration("node", ["parent", "address"], "parent", "IFACE");
    if (!d) return;
    const addr = d.opts.get("address");
    topo.nodes.push({
      name: p.name(d.name, "node"),
      parent: p.ifname(d.required),
      address: addr ? p.ip(addr) : undefined,
      pos: p.pos(t[0]),
      namePos: p.pos(d.name),
      addressPos: addr ? p.pos(addr) : undefined,
    });
  },

  master(p, t, topo) {
    const node = p.need(1, "a node name");
    const iface = node && p.need(2, "the master interface");
    const ip = iface && p.need(3, "the master's address/prefix");
    if (!node || !iface || !ip) return;
    const opts = p.options(4, ["gateway"]);
    if (!opts) return;
    const c = p.cidr(ip);
    const gw = opts.get("gateway");
    const gateway = gw ? p.ip(gw) : undefined;
    p.ifname(iface);
    if (!c) return;
    topo.masters.push({
      node: node.text,
      iface: iface.text,
      ip: formatIp(addrOf(c)),
      prefix: c.prefix,
      subnet: formatCidr(networkOf(c)),
      gateway,
      pos: p.pos(t[0]),
      nodePos: p.pos(node),
      ifacePos: p.pos(iface),
      ipPos: p.pos(ip),
      gatewayPos: gw ? p.pos(gw) : undefined,
    });
  },

  pool(p, t, topo) {
    const ns = p.need(1, "a namespace");
    const first = ns && p.need(2, "the pool's addresses");
    if (!ns || !first) return;
    topo.pools.push({
      namespace: p.name(ns, "namespace"),
      ranges: p.l.text.slice(first.col - 1).trimEnd(),
      pos: p.pos(t[0]),
      namespacePos: p.pos(ns),
      rangesPos: p.pos(first),
    });
  },

  gateway(p, t, topo) {
    const subnet = p.need(1, "a subnet");
    const gw = subnet && p.need(2, "the gateway address");
    if (!subnet || !gw) return;
    p.end(3);
    const c = p.cidr(subnet);
    const g = p.ip(gw);
    if (!c || !g) return;
    const net = networkOf(c);
    const canonical = formatCidr(net);
    if (net.addr !== c.addr) {
      p.r.warn(p.pos(subnet), "host-bits", `subnet "${subnet.text}" has host bits set; read as ${canonical}`);
    }
    topo.gateways.push({
      subnet: canonical,
      gateway: g,
      pos: p.pos(t[0]),
      subnetPos: p.pos(subnet),
      gatewayPos: p.pos(gw),
    });
  },

  pod(p, t, topo) {
    const d = p.declaration("pod", ["node", "namespace"], "node", "NODE");
    if (!d) return;
    const ns = d.opts.get("namespace");
    topo.pods.push({
      name: p.name(d.name, "pod"),
      node: d.required.text,
      namespace: ns ? p.name(ns, "namespace") : "default",
      pos: p.pos(t[0]),
      namePos: p.pos(d.name),
      nodePos: p.pos(d.required),
    });
  },

  link(p, t, topo) {
    const dash = t.findIndex((x) => x.text === "--");
    if (dash < 0) {
      p.r.error(
        t[1] ? p.pos(t[1]) : after(p.l.line, t[0]),
        "syntax",
        `link: expected "POD:IF [IP/PREFIX] -- POD:IF [IP/PREFIX]"`,
      );
      return;
    }
    if (dash === 1) {
      p.r.error(p.pos(t[1]), "syntax", "link: expected POD:IF before --");
      return;
    }
    if (dash > 3) p.r.error(p.pos(t[3]), "syntax", `link: unexpected "${t[3].text}" before --`);
    const a = linkEnd(p, t[1], t[2] && dash > 2 ? t[2] : undefined);
    const bTok = p.need(dash + 1, "POD:IF after --");
    if (!bTok) return;
    let i = dash + 2;
    const bIp = t[i] && t[i].text !== "mtu" ? t[i++] : undefined;
    const b = linkEnd(p, bTok, bIp);
    let mtu: number | undefined, mtuPos: Pos | undefined;
    if (t[i]?.text === "mtu") {
      const v = p.need(i + 1, "a number after mtu");
      if (v) {
        mtuPos = p.pos(v);
        if (!/^[0-9]{1,9}$/.test(v.text)) p.r.error(mtuPos, "bad-mtu", `mtu "${v.text}" is not a number`);
        else mtu = Number(v.text);
      }
      i += 2;
    }
    p.end(i);
    if (!a || !b) return;
    topo.links.push({ id: "", a, b, mtu, pos: p.pos(t[0]), mtuPos });
  },
};

function linkEnd(p: StatementParser, end: Token, ip: Token | undefined): LinkEndDecl | undefined {
  const colon = end.text.indexOf(":");
  if (colon <= 0 || colon === end.text.length - 1 || end.text.indexOf(":", colon + 1) >= 0) {
    p.r.error(p.pos(end), "syntax", `link end "${end.text}" must be POD:IFNAME`);
    return undefined;
  }
  const pod = end.text.slice(0, colon);
  const ifnamePos = { line: p.l.line, col: end.col + colon + 1 };
  const ifname = p.ifname(end, end.text.slice(colon + 1), ifnamePos);
  const c = ip ? p.cidr(ip) : undefined;
  return {
    pod,
    ifname,
    ip: c && formatCidr(c),
    pos: p.pos(end),
    ifnamePos,
    ipPos: ip ? p.pos(ip) : undefined,
  };
}

/** An empty model for `file`. */
export function emptyTopology(file: string): Topology {
  return { file, nodes: [], masters: [], pools: [], gateways: [], pods: [], links: [] };
}

/** Parses every statement of `text` into a model, reporting syntax and token problems. */
export function parseStatements(text: string, r: Reporter): Topology {
  const topo = emptyTopology(r.file);
  // Line by line rather than tokenizing the whole file first: each line's tokens die young.
  let start = 0;
  for (let n = 1; start <= text.length; n++) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const l = tokenizeLine(text.slice(start, end), n);
    start = end + 1;
    const kw = l.tokens[0];
    if (!kw) continue;
    const h = Object.hasOwn(handlers, kw.text) ? handlers[kw.text] : undefined;
    if (!h) {
      r.error(
        at(l.line, kw),
        "unknown-statement",
        `unknown statement "${kw.text}" (expected ${Object.keys(handlers).join(", ")})`,
      );
      continue;
    }
    h(new StatementParser(l, r), l.tokens, topo);
  }
  return topo;
}
