/**
 * The router's live status page (GET /dashboard): one self-contained HTML document (no external
 * scripts, styles or fonts) that polls GET /dashboard/state every REFRESH_MS and redraws. Text from
 * the cluster (addresses, errors) is only ever set as textContent. When the router has an API key
 * the state answers 401 until the page sends it: the page then asks for the key once and keeps it
 * in the tab's sessionStorage.
 */
export const STATUS_REFRESH_MS = 2000;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RadixServe status</title>
<style>
  :root { color-scheme: light dark; --up: #1a7f37; --down: #cf222e; --warn: #9a6700; --muted: #6e7781; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  #meta { color: var(--muted); }
  #tiles { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1rem; }
  .tile { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
  .tile b { display: block; font-size: 1.35rem; }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; }
  th:nth-child(1) { width: 13%; } th:nth-child(2) { width: 7%; } th:nth-child(3) { width: 6%; }
  th:nth-child(4) { width: 10%; } th:nth-child(5) { width: 11%; } th:nth-child(6) { width: 7%; }
  th:nth-child(7) { width: 7%; } th:nth-child(8) { width: 8%; } th:nth-child(9) { width: 9%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #d0d7de; white-space: nowrap;
           overflow: hidden; text-overflow: ellipsis; }
  th { font-weight: 600; color: var(--muted); }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; color: #fff; font-weight: 600; }
  .up { background: var(--up); } .down { background: var(--down); }
  .draining, .starting, .breaker_open { background: var(--warn); }
  .bar { display: inline-block; width: 5rem; height: .6rem; background: #d0d7de; border-radius: .3rem;
         vertical-align: middle; margin-right: .4rem; overflow: hidden; }
  .bar > i { display: block; height: 100%; background: #0969da; }
  .detail { color: var(--muted); white-space: normal; }
  #error { color: var(--down); }
  #key { display: none; margin-top: 1rem; }
</style>
</head>
<body data-refreshes="0">
<h1>RadixServe status</h1>
<div id="meta">loading...</div>
<div id="error"></div>
<form id="key"><label>API key <input id="key-input" type="password" autocomplete="off"></label>
  <button type="submit">Show</button></form>
<div id="tiles"></div>
<div id="roles"></div>
<script>
"use strict";
const REFRESH_MS = ${STATUS_REFRESH_MS};
let lastOk = 0;
const el = (tag, attrs = {}, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
};
const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
const pct = (r) => fmt(100 * r, 0) + "%";
const bytes = (b) => b >= 1e9 ? fmt(b / 1e9, 2) + " GB/s" : b >= 1e6 ? fmt(b / 1e6, 1) + " MB/s" : fmt(b / 1e3, 1) + " kB/s";
function tile(label, value) {
  const t = el("div", { class: "tile" });
  t.append(el("span", {}, label), el("b", {}, value));
  return t;
}
function bar(ratio) {
  const td = el("td", {});
  const b = el("span", { class: "bar" });
  const fill = el("i", {});
  fill.style.width = Math.max(0, Math.min(100, 100 * ratio)) + "%";
  b.append(fill);
  td.append(b, document.createTextNode(pct(ratio)));
  return td;
}
function row(w) {
  const tr = el("tr", { "data-worker": w.address, "data-health": w.health });
  tr.append(el("td", {}, w.address));
  const h = el("td", {});
  h.append(el("span", { class: "badge " + w.health }, w.health.replace("_", " ")));
  tr.append(h);
  tr.append(el("td", { class: "num" }, w.inFlight));
  tr.append(el("td", { class: "num" }, w.running + " / " + w.queued));
  tr.append(bar(w.kvUsage));
  tr.append(el("td", { class: "num" }, pct(w.cacheHitRate)));
  tr.append(el("td", { class: "num" }, fmt(w.generationTokensPerS)));
  tr.append(el("td", { class: "num" }, fmt(w.promptTokensPerS)));
  tr.append(el("td", { class: "num" }, bytes(w.kvTransferBytesPerS)));
  tr.append(el("td", { class: "detail" }, w.detail ?? ""));
  return tr;
}
function render(s) {
  document.getElementById("meta").textContent =
    "model " + (s.model ?? "(none yet)") + " · router up " + s.routerUptimeS + " s · updated " +
    new Date().toLocaleTimeString() + " · refreshes every " + REFRESH_MS / 1000 + " s";
  const tiles = document.getElementById("tiles");
  tiles.replaceChildren(
    tile("workers up", s.workersUp + " / " + s.workers.length),
    tile("requests / s", fmt(s.requestsPerS)),
    tile("error ratio", pct(s.errorRatio)),
    tile("generated tokens / s", fmt(s.generationTokensPerS)),
    tile("KV transfer", bytes(s.kvTransferBytesPerS)),
  );
  const roles = document.getElementById("roles");
  roles.replaceChildren();
  const byRole = new Map();
  for (const w of s.workers) byRole.set(w.role, [...(byRole.get(w.role) ?? []), w]);
  for (const [role, ws] of byRole) {
    const section = el("section", { "data-role": role });
    const up = ws.filter((w) => w.health === "up").length;
    section.append(el("h2", {}, role + " workers · " + up + " of " + ws.length + " up"));
    const table = el("table", {});
    const head = el("tr", {});
    for (const c of ["worker", "health", "in flight", "run / queue", "KV used", "cache hit",
                     "gen tok/s", "prompt tok/s", "KV transfer", "detail"]) head.append(el("th", {}, c));
    table.append(head, ...ws.map(row));
    section.append(table);
    roles.append(section);
  }
}
async function refresh() {
  const key = sessionStorage.getItem("radixserve-api-key");
  try {
    const res = await fetch("dashboard/state", { headers: key ? { authorization: "Bearer " + key } : {} });
    if (res.status === 401) {
      document.getElementById("key").style.display = "block";
      document.getElementById("error").textContent = "This router needs its API key.";
      return;
    }
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
    lastOk = Date.now();
    document.getElementById("error").textContent = "";
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
  } catch (err) {
    const ago = lastOk ? " (last good update " + Math.round((Date.now() - lastOk) / 1000) + " s ago)" : "";
    document.getElementById("error").textContent = "Cannot reach the router: " + err.message + ago;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}
document.getElementById("key").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("radixserve-api-key", document.getElementById("key-input").value);
  document.getElementById("key").style.display = "none";
});
refresh();
</script>
</body>
</html>
`;
