/**
 * Evaluates the Grafana dashboard's panels the way Grafana would, through a real Prometheus: the
 * dashboard variables become match-all regexes, $__rate_interval a window that spans four scrapes,
 * and each panel's targets run as range queries. A panel "moves" when any of its series takes two
 * different values in the window; it is "empty" when no target returns a sample.
 */
import type { Dashboard } from "../deploy/dashboard-check.js";
import type { Prometheus, PromSample } from "./prometheus-server.js";

export interface PanelResult {
  id: number;
  title: string;
  /** Samples over all targets (NaN and ±Inf dropped: Grafana draws no point for them). */
  points: number;
  moved: boolean;
  /** Largest finite value seen. */
  max: number;
  series: PromSample[];
}

interface PanelLike {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  targets?: { expr?: unknown }[];
  panels?: PanelLike[];
}

/** The PromQL Grafana sends for `expr` with every variable set to "All" (scrape interval 1 s). */
export function grafanaExpr(expr: string, rateInterval = "5s"): string {
  return expr
    .replaceAll("$__rate_interval", rateInterval)
    .replaceAll("$__interval", "1s")
    .replace(/\$\{?[a-z_]+\}?/g, ".*");
}

function finite(v: string): number | null {
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Every non-row panel of the dashboard with its results over [startS, endS]. */
export async function evaluatePanels(
  dash: Dashboard,
  prom: Prometheus,
  startS: number,
  endS: number,
): Promise<PanelResult[]> {
  const panels: PanelLike[] = [];
  const walk = (ps: PanelLike[] = []) => {
    for (const p of ps) {
      if (p.type !== "row") panels.push(p);
      walk(p.panels);
    }
  };
  walk(dash.panels as PanelLike[]);
  const out: PanelResult[] = [];
  for (const p of panels) {
    const series: PromSample[] = [];
    for (const t of p.targets ?? []) {
      if (typeof t.expr !== "string") continue;
      series.push(...(await prom.queryRange(grafanaExpr(t.expr), startS, endS)));
    }
    let points = 0;
    let moved = false;
    let max = Number.NEGATIVE_INFINITY;
    for (const s of series) {
      let first: number | null = null;
      for (const [, v] of s.values) {
        const n = finite(v);
        if (n === null) continue;
        points++;
        max = Math.max(max, n);
        if (first === null) first = n;
        else if (n !== first) moved = true;
      }
    }
    out.push({ id: Number(p.id), title: String(p.title), points, moved, max, series });
  }
  return out;
}
