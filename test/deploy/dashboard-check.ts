/**
 * Checks of a Grafana dashboard against the metric catalog, as plain functions that return a
 * list of problems (empty = fine), so a test can also feed them broken input and see them fail.
 *
 * Structure: schemaVersion >= 39, a uid, unique panel ids (rows and nested panels included),
 * a Prometheus datasource variable that every panel and query variable uses, panels inside the
 * 24-column grid.
 * Queries: every radixserve_* series is a registered metric (histograms only through their
 * _bucket/_sum/_count series), rate()/increase() only over counters and histogram series,
 * histogram_quantile() only over _bucket series aggregated by `le`, and every label in a
 * `by (...)` clause or a {matcher} exists on one of the expression's metrics.
 */
import { METRIC_PREFIX } from "@radixserve/core";
import { type MetricInfo, SCRAPE_LABELS } from "./metric-catalog.js";

export interface DashboardQuery {
  /** Where the query is, for messages: "panel 3 'TTFT' A" or "variable role". */
  where: string;
  expr: string;
}

interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  datasource?: { type?: unknown; uid?: unknown } | null;
  gridPos?: { x?: unknown; y?: unknown; w?: unknown; h?: unknown };
  targets?: { refId?: unknown; expr?: unknown; datasource?: { uid?: unknown } }[];
  panels?: Panel[];
}

interface Variable {
  name?: unknown;
  type?: unknown;
  query?: unknown;
  definition?: unknown;
  datasource?: { uid?: unknown } | null;
}

export interface Dashboard {
  uid?: unknown;
  title?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"] as const;
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template.
const DATASOURCE_REF = "${datasource}";

function allPanels(panels: readonly Panel[] = []): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels)]);
}

function panelName(p: Panel): string {
  return `panel ${String(p.id)} '${String(p.title)}'`;
}

/** The PromQL of every panel target and every query variable. */
export function dashboardQueries(dash: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const p of allPanels(dash.panels)) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr === "string") out.push({ where: `${panelName(p)} ${String(t.refId)}`, expr: t.expr });
    }
  }
  for (const v of dash.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : (v.query as { query?: unknown } | undefined)?.query;
    if (typeof q === "string") out.push({ where: `variable ${String(v.name)}`, expr: q });
  }
  return out;
}

/** Structural problems of one dashboard. */
export function checkDashboardStructure(dash: Dashboard): string[] {
  const problems: string[] = [];
  if (typeof dash.schemaVersion !== "number" || dash.schemaVersion < 39)
    problems.push(`schemaVersion ${String(dash.schemaVersion)} < 39`);
  if (typeof dash.uid !== "string" || dash.uid.length === 0) problems.push("no uid");
  if (typeof dash.title !== "string" || dash.title.length === 0) problems.push("no title");
  const vars = dash.templating?.list ?? [];
  const ds = vars.find((v) => v.name === "datasource");
  if (ds?.type !== "datasource" || ds.query !== "prometheus")
    problems.push("no Prometheus datasource variable named 'datasource'");
  for (const v of vars) {
    if (v.type === "query" && v.datasource?.uid !== DATASOURCE_REF)
      problems.push(`variable ${String(v.name)} does not use ${DATASOURCE_REF}`);
  }
  const panels = allPanels(dash.panels);
  if (panels.length === 0) problems.push("no panels");
  const seen = new Set<unknown>();
  for (const p of panels) {
    if (typeof p.id !== "number") problems.push(`${panelName(p)}: id is not a number`);
    else if (seen.has(p.id)) problems.push(`${panelName(p)}: duplicate panel id ${p.id}`);
    seen.add(p.id);
    const g = p.gridPos;
    if (!g || typeof g.x !== "number" || typeof g.w !== "number" || g.x < 0 || g.w < 1 || g.x + g.w > 24)
      problems.push(`${panelName(p)}: gridPos outside the 24-column grid`);
    if (p.type === "row") continue;
    if (p.datasource?.uid !== DATASOURCE_REF)
      problems.push(`${panelName(p)}: datasource is not ${DATASOURCE_REF}`);
    if ((p.targets ?? []).length === 0) problems.push(`${panelName(p)}: no queries`);
    for (const t of p.targets ?? []) {
      if (typeof t.expr !== "string" || t.expr.trim() === "")
        problems.push(`${panelName(p)} ${String(t.refId)}: empty expr`);
      if (t.datasource && t.datasource.uid !== DATASOURCE_REF)
        problems.push(`${panelName(p)} ${String(t.refId)}: target datasource is not ${DATASOURCE_REF}`);
    }
  }
  return problems;
}

/** Resolves a series name to its metric: the name itself, or a histogram's _bucket/_sum/_count. */
function resolveSeries(
  series: string,
  metrics: ReadonlyMap<string, MetricInfo>,
): { metric: MetricInfo; suffix: string } | string {
  const direct = metrics.get(series);
  if (direct) {
    if (direct.type === "histogram")
      return `${series} is a histogram: query ${series}_bucket, _sum or _count, not the bare name`;
    return { metric: direct, suffix: "" };
  }
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!series.endsWith(suffix)) continue;
    const base = metrics.get(series.slice(0, -suffix.length));
    if (base?.type === "histogram") return { metric: base, suffix };
    if (base) return `${series}: ${base.name} is a ${base.type}, it has no ${suffix} series`;
  }
  return `${series} is not a registered RadixServe metric (not in METRIC_NAMES and the other name catalogs)`;
}

/** Problems of one PromQL expression against the registered metrics and the name catalog. */
export function checkQuery(
  q: DashboardQuery,
  metrics: ReadonlyMap<string, MetricInfo>,
  catalog: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  const at = (msg: string) => problems.push(`${q.where}: ${msg}`);
  const seriesRe = new RegExp(`\\b${METRIC_PREFIX}[a-z0-9_]+`, "g");
  const used: MetricInfo[] = [];
  const seriesNames = [...new Set(q.expr.match(seriesRe) ?? [])];
  if (seriesNames.length === 0) at(`no ${METRIC_PREFIX}* metric in "${q.expr}"`);
  for (const series of seriesNames) {
    const r = resolveSeries(series, metrics);
    if (typeof r === "string") {
      at(r);
      continue;
    }
    if (!catalog.has(r.metric.name)) at(`${r.metric.name} is registered but missing from the name catalogs`);
    used.push(r.metric);
  }
  // rate()/irate()/increase() make sense only over counters (and histogram series, which are counters).
  for (const m of q.expr.matchAll(/\b(rate|irate|increase)\s*\(\s*([a-z0-9_:]+)/g)) {
    const r = resolveSeries(m[2]!, metrics);
    if (typeof r !== "string" && r.suffix === "" && r.metric.type !== "counter")
      at(`${m[1]}() over ${r.metric.name}, a ${r.metric.type}`);
  }
  if (q.expr.includes("histogram_quantile")) {
    if (!/_bucket\b/.test(q.expr)) at("histogram_quantile() without a _bucket series");
    for (const m of q.expr.matchAll(/histogram_quantile\s*\(\s*[0-9.]+\s*,\s*sum\s+by\s*\(([^)]*)\)/g)) {
      if (!m[1]!.split(",").some((l) => l.trim() === "le"))
        at("histogram_quantile() over a sum that drops `le`");
    }
  }
  const known = new Set<string>(SCRAPE_LABELS);
  for (const metric of used) {
    for (const l of metric.labels) known.add(l);
    if (metric.type === "histogram") known.add("le");
  }
  const labelsUsed = new Set<string>();
  for (const m of q.expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(",")) if (l.trim()) labelsUsed.add(l.trim());
  }
  for (const m of q.expr.matchAll(/[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labelsUsed.add(m[1]!);
  // label_values(metric, label)
  for (const m of q.expr.matchAll(/label_values\s*\([^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)/g))
    labelsUsed.add(m[1]!);
  for (const l of labelsUsed) {
    if (!known.has(l))
      at(`label '${l}' is on none of ${used.map((u) => u.name).join(", ") || "its metrics"}`);
  }
  return problems;
}
