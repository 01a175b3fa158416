/**
 * The web page, as string constants so that `deno compile` embeds it: no build step, no external
 * assets. The script builds every cell with textContent, never innerHTML, so stored values (pod names,
 * hand-written keys) cannot inject markup.
 */
import { conditionClass } from "../picture/model.ts";

const CSS = `
:root { --fg:#1d2330; --muted:#667085; --bg:#f6f7f9; --card:#fff; --line:#e3e6eb; --accent:#2f6fdb;
  --used:#e0833a; --reserved:#9aa3b2; --free:#3aa76d; --bad:#c62828; --badbg:#fdecea; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6e9ef; --muted:#98a2b3; --bg:#14171c; --card:#1c2027;
  --line:#2c323c; --accent:#6ea0ff; --badbg:#3a1f1f; --bad:#ff8a80; } }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:16px; align-items:center; flex-wrap:wrap; padding:12px 24px; background:var(--card); border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0; }
header .store { color:var(--muted); font-family:ui-monospace,monospace; font-size:12px; }
header form { margin-left:auto; display:flex; gap:6px; align-items:center; }
main { padding:16px 24px; display:grid; gap:20px; max-width:1400px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
section h2 { font-size:15px; margin:0 0 10px; display:flex; gap:12px; align-items:center; }
section h2 .count { color:var(--muted); font-weight:normal; font-size:13px; }
.pools { display:grid; grid-template-columns:repeat(auto-fill,minmax(280px,1fr)); gap:12px; margin-bottom:12px; }
.pool { border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
.pool h3 { margin:0 0 4px; font-size:14px; display:flex; justify-content:space-between; align-items:center; }
.mono { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12.5px; word-break:break-all; }
.bar { display:flex; height:10px; border-radius:5px; overflow:hidden; background:var(--line); margin:8px 0 4px; }
.bar span { display:block; height:100%; }
.bar .used { background:var(--used); } .bar .reserved { background:var(--reserved); } .bar .free { background:var(--free); }
.legend { color:var(--muted); font-size:12px; }
.legend b { color:var(--fg); font-weight:600; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); font-weight:600; white-space:nowrap; }
th.sortable { cursor:pointer; user-select:none; }
th.sortable:hover { color:var(--fg); }
th[aria-sort=ascending]::after { content:" \\25B2"; } th[aria-sort=descending]::after { content:" \\25BC"; }
tr:hover td { background:rgba(127,127,127,.06); }
form.edit { display:flex; flex-wrap:wrap; gap:8px; align-items:flex-start; padding-top:10px; border-top:1px dashed var(--line); }
form.edit label { display:flex; flex-direction:column; gap:2px; font-size:12px; color:var(--muted); }
input { font:inherit; padding:5px 8px; border:1px solid var(--line); border-radius:5px; background:var(--bg); color:var(--fg); min-width:120px; }
input.wide { min-width:320px; }
input[aria-invalid=true] { border-color:var(--bad); }
button { font:inherit; padding:5px 12px; border-radius:5px; border:1px solid var(--line); background:var(--card); color:var(--fg); cursor:pointer; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
button.danger { color:var(--bad); }
button.confirm { background:var(--bad); border-color:var(--bad); color:#fff; }
button.small { padding:2px 8px; font-size:12px; }
form.edit button { align-self:flex-end; }
.error { color:var(--bad); background:var(--badbg); border-radius:5px; padding:6px 10px; margin:8px 0 0; width:100%; white-space:pre-wrap; }
.error:empty { display:none; }
.problem { color:var(--bad); font-size:12px; }
.muted { color:var(--muted); }
#notice { position:fixed; right:16px; bottom:16px; padding:8px 14px; border-radius:6px; background:var(--fg); color:var(--bg); opacity:0; transition:opacity .2s; pointer-events:none; }
#notice.show { opacity:.92; }
.toolbar { display:flex; gap:8px; align-items:center; margin-bottom:8px; }
.picture { overflow:auto; max-height:72vh; border:1px solid var(--line); border-radius:6px; background:#fff; margin-bottom:8px; }
.picture svg { display:block; }
.picture.fit svg { width:100%; height:auto; }
.picture:empty { display:none; }
.picture-detail { font-size:13px; margin:0 0 10px; min-height:1.45em; }
.picture-detail .mono { margin-right:14px; }
tr.selected td { background:rgba(47,111,219,.12); }
.state { font-size:12px; color:var(--muted); }
`;

const SCRIPT = `
"use strict";
const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = "monkey.token";
const data = { pools: [], gateways: [], allocations: [], links: [] };
const sort = { key: "ip", dir: 1 };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function notice(text) {
  const n = $("#notice");
  n.textContent = text;
  n.classList.add("show");
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => n.classList.remove("show"), 3000);
}

async function api(method, path, body, revision) {
  const headers = { "accept": "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["authorization"] = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  if (revision !== undefined) headers["if-match"] = '"' + revision + '"';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const payload = await res.json().catch(() => ({ error: res.status + " " + res.statusText }));
  if (!res.ok) {
    const err = new Error(payload.error || (res.status + " " + res.statusText));
    err.status = res.status;
    err.field = payload.field;
    throw err;
  }
  return payload;
}

function explain(e) {
  return e.status === 401 ? e.message + ". Enter the token (top right) first." : e.message;
}

async function load() {
  try {
    const [pools, gateways, allocations, links] = await Promise.all(
      ["pools", "gateways", "allocations", "links"].map((n) => api("GET", "api/" + n)));
    Object.assign(data, { pools, gateways, allocations, links });
    $("#load-error").textContent = "";
  } catch (e) {
    $("#load-error").textContent = "Could not load: " + explain(e);
  }
  try {
    await loadPicture();
    $("#picture-error").textContent = "";
  } catch (e) {
    $("#picture-error").textContent = "Could not draw the topology: " + explain(e);
  }
  render();
}

function render() {
  renderPools();
  renderGateways();
  renderAllocations();
  renderLinks();
}

function pct(part, total) {
  return total > 0 ? Math.max(0, Math.min(100, (part / total) * 100)) : 0;
}

function renderPools() {
  const box = $("#pools");
  box.replaceChildren();
  $("#pools-count").textContent = data.pools.length + " namespace" + (data.pools.length === 1 ? "" : "s");
  if (data.pools.length === 0) box.append(el("p", { class: "muted", text: "No pools yet: add one below." }));
  for (const p of data.pools) {
    const bar = el("div", { class: "bar", role: "img",
      "aria-label": p.used + " used, " + p.reserved + " reserved, " + p.free + " free of " + p.total });
    bar.append(
      el("span", { class: "used", style: "width:" + pct(p.used, p.total) + "%" }),
      el("span", { class: "reserved", style: "width:" + pct(p.reserved, p.total) + "%" }),
      el("span", { class: "free", style: "width:" + pct(p.free, p.total) + "%" }));
    const card = el("div", { class: "pool", "data-namespace": p.namespace },
      el("h3", {}, el("span", { text: p.namespace }),
        el("span", {},
          el("button", { class: "small", type: "button", onclick: () => edit("pool", p) }, "Edit"), " ",
          el("button", { class: "small danger", type: "button", onclick: () => deletePool(p) }, "Delete"))),
      el("div", { class: "mono", text: p.ranges }),
      bar,
      el("div", { class: "legend" },
        el("b", { text: p.used }), " used · ", el("b", { text: p.reserved }), " gateway · ",
        el("b", { text: p.free }), " free of ", el("b", { text: p.total })));
    for (const problem of p.problems) card.append(el("div", { class: "problem", text: problem }));
    box.append(card);
  }
}

/** DELETE with the revision on screen; the outcome, good or bad, is a notice, and the page reloads. */
async function remove(path, revision, done) {
  try {
    await api("DELETE", path, undefined, revision);
    notice(done);
  } catch (e) {
    notice(explain(e));
  }
  await load();
}

function deletePool(p) {
  if (!confirm("Delete the pool of namespace " + p.namespace + "? Its allocations stay.")) return;
  return remove("api/pools/" + encodeURIComponent(p.namespace), p.revision, "Deleted pool " + p.namespace);
}

function renderGateways() {
  const body = $("#gateways tbody");
  body.replaceChildren();
  $("#gateways-count").textContent = data.gateways.length + " subnet" + (data.gateways.length === 1 ? "" : "s");
  for (const g of data.gateways) {
    body.append(el("tr", { "data-subnet": g.subnet },
      el("td", { class: "mono", text: g.subnet }),
      el("td", { class: "mono", text: g.gateway }),
      el("td", { text: g.used }),
      el("td", { class: "problem", text: g.problems.join("; ") }),
      el("td", {},
        el("button", { class: "small", type: "button", onclick: () => edit("gateway", g) }, "Edit"), " ",
        el("button", { class: "small danger", type: "button", onclick: () => deleteGateway(g) }, "Delete"))));
  }
  if (data.gateways.length === 0) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No gateways yet." })));
}

function deleteGateway(g) {
  if (!confirm("Delete the gateway of " + g.subnet + "? ADD in that subnet fails until one is set.")) return;
  return remove("api/gateways/" + encodeURIComponent(g.subnet), g.revision, "Deleted the gateway of " + g.subnet);
}

/** The two edit forms, which differ only in these. */
const FORMS = {
  pool: { form: "#pool-form", error: "#pool-error", key: "namespace", value: "ranges", path: "api/pools/",
    items: () => data.pools, what: "pool", missing: "enter the namespace the pool is for" },
  gateway: { form: "#gw-form", error: "#gw-error", key: "subnet", value: "gateway", path: "api/gateways/",
    items: () => data.gateways, what: "the gateway of", missing: "enter a subnet such as 10.0.1.0/24" },
};

/** Fills a form from an item on screen, remembering the revision the edit starts from. */
function edit(kind, item) {
  const f = FORMS[kind], form = $(f.form);
  form.elements[f.key].value = item[f.key];
  form.elements[f.value].value = item[f.value];
  form.dataset.key = item[f.key];
  form.dataset.revision = String(item.revision);
  form.elements[f.value].focus();
}

/**
 * Saves a form with PUT. It sends the revision the edit started from, or for a typed name the one on
 * screen, or 0 for a new item ("must not exist yet"), so an edit made meanwhile is a 409, never lost.
 * The API's message shows inline and the field it names is marked.
 */
async function save(kind, ev) {
  ev.preventDefault();
  const f = FORMS[kind], form = $(f.form), error = $(f.error);
  const key = form.elements[f.key].value.trim();
  const existing = f.items().find((x) => x[f.key] === key);
  const revision = form.dataset.key === key ? Number(form.dataset.revision) : existing ? existing.revision : 0;
  error.textContent = "";
  for (const input of form.querySelectorAll("input")) input.removeAttribute("aria-invalid");
  try {
    if (!key) throw Object.assign(new Error(f.key + ": " + f.missing), { field: f.key });
    await api("PUT", f.path + encodeURIComponent(key), { [f.value]: form.elements[f.value].value }, revision);
    notice("Saved " + f.what + " " + key);
    form.reset();
    delete form.dataset.key;
    delete form.dataset.revision;
  } catch (e) {
    error.textContent = explain(e);
    const input = e.field && form.elements[e.field];
    if (input) input.setAttribute("aria-invalid", "true");
  }
  await load();
}

const COLUMNS = [
  ["id", "Container"], ["ip", "Address"], ["pod", "Pod"], ["namespace", "Namespace"],
  ["controller", "Controller"], ["subnet", "Subnet"], ["node", "Node"],
];

function ipKey(ip) {
  if (/^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(ip)) return "4" + ip.split(".").map((o) => o.padStart(3, "0")).join(".");
  return "6" + ip;
}

function allocationHeader() {
  const row = $("#allocations thead tr");
  row.replaceChildren(
    ...COLUMNS.map(([key, label]) => el("th", { class: "sortable", "data-key": key, "aria-sort": "none", text: label })),
    el("th", { text: "Problems" }), el("th", {}));
  for (const th of row.querySelectorAll("th.sortable")) {
    th.addEventListener("click", () => {
      sort.dir = sort.key === th.dataset.key ? -sort.dir : 1;
      sort.key = th.dataset.key;
      renderAllocations();
    });
  }
}

function renderAllocations() {
  const q = $("#search").value.trim().toLowerCase();
  const rows = data.allocations.filter((a) =>
    !q || COLUMNS.some(([k]) => String(a[k] ?? "").toLowerCase().includes(q)));
  const key = (a) => sort.key === "ip" ? ipKey(a.ip) : String(a[sort.key] ?? "").toLowerCase();
  rows.sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0) * sort.dir);
  for (const th of document.querySelectorAll("#allocations th.sortable")) {
    th.setAttribute("aria-sort", th.dataset.key === sort.key ? (sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  $("#allocations-count").textContent = rows.length + " of " + data.allocations.length;
  const body = $("#allocations tbody");
  body.replaceChildren();
  for (const a of rows) {
    const release = el("button", { class: "small danger", type: "button", "data-release": a.id }, "Release");
    release.addEventListener("click", () => releaseAllocation(a, release));
    body.append(el("tr", { "data-id": a.id },
      ...COLUMNS.map(([k]) => el("td", { class: k === "id" || k === "ip" || k === "subnet" ? "mono" : "", text: a[k] ?? "" })),
      el("td", { class: "problem", text: a.problems.join("; ") }),
      el("td", {}, release)));
  }
  if (rows.length === 0) {
    body.append(el("tr", {}, el("td", { colspan: String(COLUMNS.length + 2), class: "muted",
      text: data.allocations.length ? "Nothing matches the search." : "No addresses are allocated." })));
  }
}

/** Two clicks: the first arms the button, the second releases, so a stray click frees nothing. */
async function releaseAllocation(a, button) {
  if (!button.classList.contains("confirm")) {
    button.classList.add("confirm");
    button.textContent = "Release " + (a.ip || a.id) + "?";
    setTimeout(() => { button.classList.remove("confirm"); button.textContent = "Release"; }, 5000);
    return;
  }
  button.disabled = true;
  await remove("api/allocations/" + encodeURIComponent(a.id), a.revision, "Released " + (a.ip || a.id));
}

function endText(e) {
  if (!e) return "?";
  return e.namespace + "/" + e.pod + ":" + e.ifname + (e.ip ? " " + e.ip : "") + (e.node ? " @" + e.node : "") +
    (e.attached ? "" : " (not attached)");
}

function stateText(l) {
  const st = l.state;
  const why = l.trouble ? " (" + (l.trouble.errno ? l.trouble.errno + ": " : "") + l.trouble.reason + ")" : "";
  if (!st) return l.condition + (why || ": no pod has arrived yet");
  const ends = Object.entries(st.ends || {}).map(([k, e]) => k + (e.up ? " up" : ""));
  return [l.condition + why, st.kind, st.vni !== undefined ? "vni " + st.vni : "", ends.join(", ")].filter(Boolean).join(" · ");
}

/**
 * The topology picture: an SVG from api/picture, fetched again only when its ETag changes (a node,
 * pod, link or VNI); between fetches each link is recoloured from api/links. The server escapes every
 * stored text; scripts and foreign content are dropped all the same before the SVG joins the page.
 */
const picture = { etag: null, links: new Map(), selected: null };

async function loadPicture() {
  const headers = { accept: "image/svg+xml" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["authorization"] = "Bearer " + token;
  if (picture.etag) headers["if-none-match"] = picture.etag;
  const res = await fetch("api/picture", { headers });
  if (res.status === 304) return;
  if (!res.ok) {
    const payload = await res.json().catch(() => ({}));
    throw Object.assign(new Error(payload.error || (res.status + " " + res.statusText)), { status: res.status });
  }
  const doc = new DOMParser().parseFromString(await res.text(), "image/svg+xml");
  if (doc.querySelector("parsererror")) throw new Error("the picture is not valid SVG");
  for (const bad of doc.querySelectorAll("script, foreignObject")) bad.remove();
  const svg = document.importNode(doc.documentElement, true);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Topology: nodes, pods and links, coloured by state");
  picture.links = new Map([...svg.querySelectorAll("g.link")].map((g) => [g.getAttribute("data-link"), g]));
  $("#picture-fit").hidden = false;
  $("#picture").replaceChildren(svg);
  picture.etag = res.headers.get("etag");
}

/** The SVG's own class names (mod/picture/model.ts): state-up, state-timed-out, state-none. */
const stateClass = ${conditionClass.toString()};

function paintPicture() {
  for (const l of data.links) {
    const g = picture.links.get(l.id);
    if (!g) continue;
    const want = stateClass(l.condition);
    for (const c of [...g.classList]) if (c.startsWith("state-") && c !== want) g.classList.remove(c);
    g.classList.add(want);
    g.classList.toggle("selected", l.id === picture.selected);
  }
  for (const tr of document.querySelectorAll("#links tr[data-link]")) {
    tr.classList.toggle("selected", tr.dataset.link === picture.selected);
  }
  const box = $("#picture-detail");
  const l = data.links.find((x) => x.id === picture.selected);
  if (!l) {
    box.replaceChildren(el("span", { class: "muted",
      text: data.links.length ? "Click a link in the picture to see its ends." : "" }));
    return;
  }
  box.replaceChildren(
    el("b", { text: l.id }), " ",
    el("div", {}, el("span", { class: "muted", text: "A " }), el("span", { class: "mono", "data-end": "a", text: endText(l.a) }),
      el("span", { class: "muted", text: "B " }), el("span", { class: "mono", "data-end": "b", text: endText(l.b) })),
    el("div", { class: "state", text: stateText(l) + (l.mtu ? " · mtu " + l.mtu : "") }),
    ...l.problems.map((p) => el("div", { class: "problem", text: p })));
}

/** A big lab's picture is larger than the page: "Fit" shows all of it, "Actual size" lets it scroll. */
function toggleFit() {
  const fit = $("#picture").classList.toggle("fit");
  $("#picture-fit").textContent = fit ? "Actual size" : "Fit";
}

function selectLink(ev) {
  const g = ev.target.closest("g.link");
  if (!g) return;
  picture.selected = g.getAttribute("data-link");
  paintPicture();
}

/** Picture and links follow the store: every 3 s while the page is visible, backing off on errors. */
const REFRESH_MS = 3000;
let refreshFailures = 0;
let shownLinks = "";

async function refresh() {
  if (!document.hidden) {
    try {
      const links = await api("GET", "api/links");
      await loadPicture();
      const text = JSON.stringify(links);
      if (text !== shownLinks) {
        data.links = links;
        renderLinks();
      }
      $("#picture-error").textContent = "";
      refreshFailures = 0;
    } catch (e) {
      refreshFailures++;
      $("#picture-error").textContent = "Could not refresh the links: " + explain(e);
    }
  }
  const delay = Math.min(30000, REFRESH_MS * 2 ** refreshFailures) * (0.8 + Math.random() * 0.4);
  setTimeout(refresh, delay);
}

function renderLinks() {
  shownLinks = JSON.stringify(data.links);
  const body = $("#links tbody");
  body.replaceChildren();
  $("#links-count").textContent = String(data.links.length);
  for (const l of data.links) {
    body.append(el("tr", { "data-link": l.id },
      el("td", { class: "mono", text: l.id }),
      el("td", { class: "mono", text: endText(l.a) }),
      el("td", { class: "mono", text: endText(l.b) }),
      el("td", { text: l.mtu ?? "" }),
      el("td", { class: "state", text: stateText(l) }),
      el("td", { class: "problem", text: l.problems.join("; ") })));
  }
  if (data.links.length === 0) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No ratchet links." })));
  paintPicture();
}

function showToken() {
  const set = !!sessionStorage.getItem(TOKEN_KEY);
  $("#token-state").textContent = set ? "token set" : "read-only: enter the token to edit";
  $("#token").value = "";
  $("#token").placeholder = set ? "replace token" : "API token";
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("#token").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    showToken();
    load();
  });
  $("#pool-form").addEventListener("submit", (ev) => save("pool", ev));
  $("#gw-form").addEventListener("submit", (ev) => save("gateway", ev));
  $("#search").addEventListener("input", renderAllocations);
  $("#reload").addEventListener("click", load);
  allocationHeader();
  showToken();
  try {
    const info = await api("GET", "api/info");
    $("#store").textContent = info.store + " · v" + info.version;
  } catch (e) { /* the sections below report the failure */ }
  $("#picture").addEventListener("click", selectLink);
  $("#picture-fit").addEventListener("click", toggleFit);
  await load();
  document.body.dataset.ready = "true";
  setTimeout(refresh, REFRESH_MS);
});
`;

const HEAD = (title: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
  `<title>${title}</title><link rel="icon" href="data:,"><style>${CSS}</style></head>`;

/** The whole page served at `/`. */
export const UI_HTML = HEAD("monkey · anchor IPAM") + `<body>
<header>
  <h1>monkey</h1><span class="store" id="store"></span>
  <form id="token-form" autocomplete="off">
    <span class="state" id="token-state"></span>
    <input id="token" type="password" placeholder="API token" aria-label="API token">
    <button type="submit">Use token</button>
    <button type="button" id="reload">Reload</button>
  </form>
</header>
<main>
  <p class="error" id="load-error"></p>
  <section aria-labelledby="pools-title">
    <h2 id="pools-title">Pools <span class="count" id="pools-count"></span></h2>
    <div class="pools" id="pools"></div>
    <form class="edit" id="pool-form" autocomplete="off">
      <label>Namespace<input id="pool-namespace" name="namespace" placeholder="default"></label>
      <label>Ranges<input id="pool-ranges" name="ranges" class="wide mono" placeholder="10.0.1.[2-9],10.0.2.8,10.0.3.0/28"></label>
      <button type="submit" class="primary">Save pool</button>
      <p class="error" id="pool-error" role="alert"></p>
    </form>
  </section>
  <section aria-labelledby="gw-title">
    <h2 id="gw-title">Subnets and gateways <span class="count" id="gateways-count"></span></h2>
    <table id="gateways"><thead><tr><th>Subnet</th><th>Gateway</th><th>Allocated</th><th>Problems</th><th></th></tr></thead><tbody></tbody></table>
    <form class="edit" id="gw-form" autocomplete="off">
      <label>Subnet<input id="gw-subnet" name="subnet" class="mono" placeholder="10.0.1.0/24"></label>
      <label>Gateway<input id="gw-gateway" name="gateway" class="mono" placeholder="10.0.1.1"></label>
      <button type="submit" class="primary">Save gateway</button>
      <p class="error" id="gw-error" role="alert"></p>
    </form>
  </section>
  <section aria-labelledby="alloc-title">
    <h2 id="alloc-title">Allocations <span class="count" id="allocations-count"></span></h2>
    <div class="toolbar"><input id="search" type="search" class="wide" placeholder="Search container, address, pod, namespace…" aria-label="Search allocations"></div>
    <table id="allocations"><thead><tr></tr></thead><tbody></tbody></table>
  </section>
  <section aria-labelledby="links-title">
    <h2 id="links-title">Ratchet links <span class="count" id="links-count"></span>
      <button type="button" class="small" id="picture-fit" hidden>Fit</button></h2>
    <div class="picture" id="picture"></div>
    <div class="picture-detail" id="picture-detail" aria-live="polite"></div>
    <p class="error" id="picture-error"></p>
    <table id="links"><thead><tr><th>Link</th><th>End A</th><th>End B</th><th>MTU</th><th>State</th><th>Problems</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<div id="notice" role="status"></div>
<script>${SCRIPT}</script>
</body></html>`;
