/**
 * The Grafana dashboards (deploy/grafana/*.json) against the one metric naming scheme: each JSON
 * parses and is well formed, every series a query uses is registered by the real metric classes
 * under a catalog name (METRIC_NAMES & co.), and functions, histogram suffixes and labels fit the
 * metric types. The checker itself is shown to reject broken input, so a green run means something.
 * The Helm chart packages the same files (deploy/helm/radixserve/dashboards links to deploy/grafana).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { METRIC_NAMES } from "@radixserve/core";
import { ROUTER_METRIC, ROUTING_METRIC } from "@radixserve/router";
import { checkDashboardStructure, checkQuery, type Dashboard, dashboardQueries } from "./dashboard-check.js";
import { catalogNames, type MetricInfo, registeredMetrics } from "./metric-catalog.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const GRAFANA = join(ROOT, "deploy", "grafana");
const CHART_DASHBOARDS = join(ROOT, "deploy", "helm", "radixserve", "dashboards");

function dashboardFiles(): string[] {
  return readdirSync(GRAFANA)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

function load(file: string): Dashboard {
  return JSON.parse(readFileSync(join(GRAFANA, file), "utf8")) as Dashboard;
}

describe("deploy/grafana dashboards", () => {
  let metrics: Map<string, MetricInfo>;
  let catalog: Set<string>;

  before(async () => {
    metrics = await registeredMetrics();
    catalog = catalogNames();
  });

  it("the metric catalog is registered by the real metric classes", () => {
    // Catches a catalog name nobody exports, which would let a dashboard panel stay empty forever.
    for (const name of catalog) assert.ok(metrics.has(name), `${name} is in a catalog but never registered`);
    assert.equal(metrics.get(METRIC_NAMES.timeToFirstTokenSeconds)?.type, "histogram");
    assert.equal(metrics.get(METRIC_NAMES.requestsTotal)?.type, "counter");
    assert.ok(metrics.get(METRIC_NAMES.requestsTotal)?.labels.has("finish_reason"));
  });

  it("there is at least the overview dashboard", () => {
    assert.ok(
      dashboardFiles().includes("radixserve-overview.json"),
      "deploy/grafana/radixserve-overview.json",
    );
  });

  for (const file of dashboardFiles()) {
    describe(file, () => {
      it("parses, has schema >= 39, a datasource variable and unique panel ids", () => {
        const dash = load(file);
        assert.deepEqual(checkDashboardStructure(dash), []);
      });

      it("queries only registered catalog metrics, with fitting functions, suffixes and labels", () => {
        const queries = dashboardQueries(load(file));
        assert.ok(queries.length >= 10, `only ${queries.length} queries`);
        const problems = queries.flatMap((q) => checkQuery(q, metrics, catalog));
        assert.deepEqual(problems, []);
      });

      it("is packaged by the Helm chart unchanged", () => {
        assert.equal(realpathSync(CHART_DASHBOARDS), realpathSync(GRAFANA));
        assert.equal(
          readFileSync(join(CHART_DASHBOARDS, file), "utf8"),
          readFileSync(join(GRAFANA, file), "utf8"),
        );
      });
    });
  }

  it("covers the serving metrics of the metric catalog (latency, load, KV, cache, tokens, transfer, routing)", () => {
    const used = new Set(
      dashboardFiles().flatMap((f) =>
        dashboardQueries(load(f)).flatMap((q) => q.expr.match(/radixserve_[a-z0-9_]+/g) ?? []),
      ),
    );
    for (const series of [
      `${METRIC_NAMES.timeToFirstTokenSeconds}_bucket`,
      `${METRIC_NAMES.interTokenLatencySeconds}_bucket`,
      `${METRIC_NAMES.e2eRequestLatencySeconds}_bucket`,
      METRIC_NAMES.numRequestsRunning,
      METRIC_NAMES.numRequestsQueued,
      METRIC_NAMES.kvBlocksUsed,
      METRIC_NAMES.kvBlocksFree,
      METRIC_NAMES.cachedTokensTotal,
      METRIC_NAMES.promptTokensTotal,
      METRIC_NAMES.generationTokensTotal,
      METRIC_NAMES.requestsTotal,
      "radixserve_kv_transfer_bytes_total",
      "radixserve_kv_transfer_failures_total",
      "radixserve_router_routing_decisions_total",
    ]) {
      assert.ok(used.has(series), `no panel queries ${series}`);
    }
  });

  it("has the routing and resilience panels (every router metric, by the labels that matter)", () => {
    const exprs = dashboardFiles().flatMap((f) => dashboardQueries(load(f)).map((q) => q.expr));
    const queried = (series: string, by?: string) =>
      exprs.some(
        (e) => e.includes(series) && (by === undefined || new RegExp(`by \\([^)]*\\b${by}\\b`).test(e)),
      );
    // Every router-only and routing series has a panel: a new one without a panel fails here.
    for (const name of [...Object.values(ROUTER_METRIC), ...Object.values(ROUTING_METRIC)])
      assert.ok(queried(name), `no panel queries ${name}`);
    assert.ok(queried(ROUTER_METRIC.retriesTotal, "reason"), "retries by reason");
    assert.ok(queried(ROUTER_METRIC.circuitOpen, "worker"), "circuit breakers per worker");
    assert.ok(queried(ROUTING_METRIC.decisionsTotal, "policy"), "decisions by policy");
    assert.ok(queried(ROUTING_METRIC.decisionsTotal, "reason"), "decisions by reason");
    assert.ok(queried(ROUTING_METRIC.predictedHitBlocksTotal), "predicted-hit blocks");
    assert.ok(queried(ROUTING_METRIC.kvIndexBlocks, "worker"), "index size per worker");
    assert.ok(queried(ROUTING_METRIC.kvResyncsTotal, "reason"), "resyncs by reason");
    assert.ok(queried(ROUTING_METRIC.workerCacheHitRate, "worker"), "per-worker cache hit rate");
    assert.ok(queried(ROUTING_METRIC.discoveryUp), "discovery up");
  });
});

describe("dashboard checker rejects broken dashboards", () => {
  let metrics: Map<string, MetricInfo>;
  let catalog: Set<string>;
  before(async () => {
    metrics = await registeredMetrics();
    catalog = catalogNames();
  });
  const check = (expr: string) => checkQuery({ where: "t", expr }, metrics, catalog);

  it("an unknown metric name", () => {
    assert.match(
      check("sum(rate(radixserve_requests_totl[5m]))").join(),
      /not a registered RadixServe metric/,
    );
  });

  it("a histogram by its bare name, or a _bucket of a counter", () => {
    assert.match(check("radixserve_time_to_first_token_seconds").join(), /is a histogram/);
    assert.match(check("radixserve_requests_total_bucket").join(), /is a counter, it has no _bucket/);
  });

  it("rate() over a gauge", () => {
    assert.match(check("rate(radixserve_num_requests_running[5m])").join(), /rate\(\) over .* a gauge/);
  });

  it("histogram_quantile() that drops le", () => {
    const expr =
      "histogram_quantile(0.99, sum by (role) (rate(radixserve_time_to_first_token_seconds_bucket[5m])))";
    assert.match(check(expr).join(), /drops `le`/);
  });

  it("a label the metric does not have", () => {
    assert.match(check("sum by (cause) (rate(radixserve_requests_total[5m]))").join(), /label 'cause'/);
  });

  it("duplicate panel ids and a missing datasource variable", () => {
    const dash: Dashboard = {
      uid: "x",
      title: "x",
      schemaVersion: 39,
      templating: { list: [] },
      panels: [
        {
          id: 1,
          type: "row",
          gridPos: { x: 0, y: 0, w: 24, h: 1 },
          panels: [{ id: 1, type: "stat", gridPos: { x: 0, y: 1, w: 6, h: 4 } }],
        },
      ],
    };
    const problems = checkDashboardStructure(dash).join("\n");
    assert.match(problems, /duplicate panel id 1/);
    assert.match(problems, /no Prometheus datasource variable/);
  });
});
