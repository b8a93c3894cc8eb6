/**
 * The Grafana dashboard, proven against a live cluster: a real Prometheus scrapes a real PD cluster
 * (router, two prefill workers, one decode worker, redis-server, nats-server, all on loopback)
 * while a short load runs with faults: bad requests (invalid JSON, a bad parameter, an unknown
 * model, a prompt past the context) and a prefill worker killed with requests in flight, then
 * replaced. Every panel's PromQL then runs through Prometheus' HTTP API; a panel that should move
 * and stays empty or flat fails the test. Also: `promtool check metrics` on every process's
 * /metrics, and the SGLang/vLLM recording rules (`promtool check rules`, then evaluated live).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ClusterServices,
  metricSum,
  type RouterProc,
  startClusterServices,
  type WorkerProc,
} from "../cluster/cluster-harness.js";
import { until } from "../cluster/services.js";
import type { Dashboard } from "../deploy/dashboard-check.js";
import { ROOT } from "../harness/cluster.js";
import { evaluatePanels, type PanelResult } from "./panel-eval.js";
import {
  type Prometheus,
  promtoolCheckMetrics,
  promtoolCheckRules,
  startPrometheus,
} from "./prometheus-server.js";

const DASHBOARD = join(ROOT, "deploy", "grafana", "radixserve-overview.json");
const RULES = join(ROOT, "deploy", "prometheus", "sglang-vllm-compat.rules.yaml");

/**
 * Panels that may stay flat in this run, and why. Every other panel must move.
 * (A panel listed here must still return data: an empty panel always fails.)
 */
const MAY_STAY_FLAT: Record<string, string> = {
  "Cluster links": "NATS and Redis stay up (1) for the whole run",
  "Preemptions per second per worker":
    "the load never runs the KV pool out (the preemption tests cover the counter)",
  "Circuit breakers open per worker": "a breaker opens only after repeated transport failures of one worker",
  "Reservation queue / transfers in flight / quarantined blocks":
    "momentary gauges: a 1 s scrape may never land inside a transfer of the tiny model",
};

/**
 * Panels of a feature this cluster runs without, and why: their series exist only on workers started
 * with it, so here they may be empty (the dashboards test still checks their metric names).
 */
const FEATURE_OFF: Record<string, string> = {
  "Drafted tokens proposed and accepted per second": "no worker runs --speculative-algorithm here",
  "Draft acceptance rate": "no worker runs --speculative-algorithm here",
  "Accepted drafts per verification (p50, p90)": "no worker runs --speculative-algorithm here",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function prompt(group: number, n: number, len: number): number[] {
  return Array.from(
    { length: len },
    (_, i) => 100 + ((i < len - 8 ? group * 97 + i * 13 : n * 31 + i) % 30000),
  );
}

async function post(router: string, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${router}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("observability: every dashboard panel moves under load with faults (real Prometheus)", {
  timeout: 240_000,
}, () => {
  let c: ClusterServices;
  let prom: Prometheus;
  let router: RouterProc;
  let prefill: WorkerProc[] = [];
  let decode: WorkerProc;
  let rulesDir = "";
  let model = "";
  let results: PanelResult[] = [];
  let windowS: [number, number] = [0, 0];
  const statuses = new Map<number, number>();

  before(async () => {
    c = await startClusterServices();
    const pd = ["--disagg-prefill-threshold", "24"];
    prefill = await Promise.all([
      c.startWorker(["--disagg-mode", "prefill", ...pd]),
      c.startWorker(["--disagg-mode", "prefill", ...pd]),
    ]);
    decode = await c.startWorker(["--disagg-mode", "decode", ...pd]);
    router = await c.startRouter();
    // The rules evaluate every second here (15 s in the file) so a short run sees them.
    rulesDir = mkdtempSync(join(tmpdir(), "radixserve-rules-"));
    const rules = join(rulesDir, "compat.rules.yaml");
    writeFileSync(rules, readFileSync(RULES, "utf8").replaceAll("interval: 15s", "interval: 1s"));
    const targets: Record<string, string> = {
      router: `${router.url}/metrics`,
      prefill0: prefill[0]!.metricsUrl,
      prefill1: prefill[1]!.metricsUrl,
      decode: decode.metricsUrl,
    };
    prom = await startPrometheus(targets, [rules]);
    await prom.waitForTargets(4, 30_000);
    const models = (await (await fetch(`${router.url}/v1/models`)).json()) as { data: { id: string }[] };
    model = models.data[0]!.id;

    const t0 = Date.now() / 1000;
    let stop = false;
    const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    const client = async (k: number) => {
      for (let n = 0; !stop; n++) {
        // Mostly shared-prefix prompts, some long ones (a prefill worker busy long enough to be
        // killed mid-prompt) and some short ones (prefilled on the decode worker itself).
        const len = n % 4 === 3 ? 12 : n % 4 === 1 ? 1500 : 320;
        const body = {
          model,
          prompt: prompt(k, n, len),
          max_tokens: 8,
          temperature: 0,
          ignore_eos: true,
          stream: n % 2 === 0,
        };
        count(await post(router.url, "/v1/completions", body).catch(() => 0));
        if (n % 5 === 0) {
          count(await post(router.url, "/v1/completions", "{not json"));
          count(await post(router.url, "/v1/completions", { model, prompt: "x", max_tokens: -1 }));
          count(await post(router.url, "/v1/completions", { model: "no-such-model", prompt: "x" }));
          count(
            await post(router.url, "/v1/completions", { model, prompt: prompt(9, n, 2100), max_tokens: 1 }),
          );
          count(
            await post(router.url, "/v1/chat/completions", {
              model,
              messages: [{ role: "user", content: `hello ${n}` }],
              max_tokens: 4,
            }),
          );
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3, 4, 5].map(client));
    await sleep(4000);
    // Kill a prefill worker while it holds a prompt (a crash mid-transfer), then bring a
    // replacement up (a rollout).
    const busy = async (w: WorkerProc) =>
      (await metricSum(w.metricsUrl, "radixserve_num_requests_running")) +
      (await metricSum(w.metricsUrl, "radixserve_kv_transfers_in_flight"));
    let victim = 0;
    await until(async () => {
      for (const i of [0, 1]) if ((await busy(prefill[i]!)) > 0) victim = i;
      return (await busy(prefill[victim]!)) > 0;
    }, 10_000);
    const survivor = prefill[1 - victim]!;
    await prefill[victim]!.kill();
    await sleep(3000);
    const replacement = await c.startWorker(["--disagg-mode", "prefill", ...pd]);
    prom.setTargets({ ...targets, [`prefill${victim}`]: replacement.metricsUrl });
    prefill = [survivor, replacement];
    await sleep(6000);
    stop = true;
    await load;
    // Let Prometheus take the last scrapes and rule evaluations.
    await sleep(3500);
    windowS = [t0 - 2, Date.now() / 1000];
    const dash = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
    results = await evaluatePanels(dash, prom, windowS[0], windowS[1]);
  });

  after(async () => {
    await prom?.stop();
    await c?.stop();
    if (rulesDir) rmSync(rulesDir, { recursive: true, force: true });
  });

  it("the load ran: successes, 4xx rejections", () => {
    assert.ok((statuses.get(200) ?? 0) > 20, `statuses ${JSON.stringify([...statuses])}`);
    assert.ok(
      (statuses.get(400) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0,
      `statuses ${JSON.stringify([...statuses])}`,
    );
  });

  it("no panel is empty", () => {
    const empty = results
      .filter((r) => r.points === 0 && !(r.title in FEATURE_OFF))
      .map((r) => `${r.id} '${r.title}'`);
    assert.deepEqual(empty, [], "panels without data");
    assert.ok(results.length >= 30, `only ${results.length} panels evaluated`);
  });

  it("every panel that should move moves (failures included)", () => {
    const flat = results
      .filter((r) => !r.moved && !(r.title in MAY_STAY_FLAT) && !(r.title in FEATURE_OFF))
      .map((r) => `${r.id} '${r.title}'`);
    assert.deepEqual(flat, [], "panels that stayed flat");
    for (const title of [...Object.keys(MAY_STAY_FLAT), ...Object.keys(FEATURE_OFF)])
      assert.ok(
        results.some((r) => r.title === title),
        `MAY_STAY_FLAT names a panel that is gone: ${title}`,
      );
  });

  it("the failures are visible where an operator looks", () => {
    const panel = (title: string) => {
      const r = results.find((x) => x.title === title);
      assert.ok(r, `no panel '${title}'`);
      return r;
    };
    const seriesMax = (r: PanelResult, label: string, value: RegExp) =>
      Math.max(
        0,
        ...r.series
          .filter((s) => value.test(s.metric[label] ?? ""))
          .flatMap((s) => s.values.map(([, v]) => Number(v))),
      );
    assert.ok(
      panel("KV transfer failures by cause").max > 0,
      "a killed prefill worker shows as transfer failures",
    );
    assert.ok(panel("Router retries by reason").max > 0, "and as retries");
    const failed = panel("Failed requests by error code");
    assert.ok(seriesMax(failed, "error_code", /^invalid_request$/) > 0, "400 invalid_request");
    assert.ok(seriesMax(failed, "error_code", /^invalid_json$/) > 0, "400 invalid_json");
    assert.ok(seriesMax(failed, "error_code", /^model_not_found$/) > 0, "404 model_not_found");
    assert.ok(seriesMax(failed, "error_code", /^prompt_too_long$/) > 0, "400 prompt_too_long");
    assert.ok(
      seriesMax(panel("Request rate by finish reason"), "finish_reason", /^error$/) > 0,
      "finish_reason=error",
    );
    assert.ok(panel("Error ratio of API requests").max > 0);
    assert.ok(panel("KV index resyncs by reason").max > 0, "the replacement worker's join resyncs the index");
  });

  it("prefill workers report their tokens (hit rate and token counters agree)", async () => {
    const [from, to] = windowS;
    const q = async (expr: string) =>
      Math.max(
        0,
        ...(await prom.queryRange(expr, from, to)).flatMap((s) => s.values.map(([, v]) => Number(v))),
      );
    assert.ok((await q('sum(radixserve_prompt_tokens_total{role="prefill"})')) > 0);
    assert.ok((await q('sum(radixserve_cached_tokens_total{role="prefill"})')) > 0);
    assert.ok((await q('sum(radixserve_generation_tokens_total{role="prefill"})')) > 0);
    assert.ok((await q('max(radixserve_cache_hit_rate{role="prefill"})')) > 0);
  });

  it("every series carries model_name and the dashboard's model variable finds it", async () => {
    assert.deepEqual(await prom.labelValues("model_name", "radixserve_requests_total"), [model]);
    const unlabelled = await prom.query('count({__name__=~"radixserve_.*", model_name=""})');
    assert.equal(unlabelled.length, 0, "radixserve_* series without model_name");
  });

  it("promtool check metrics is clean on every process's /metrics", async () => {
    for (const [name, url] of [
      ["router", `${router.url}/metrics`],
      ["prefill", prefill[0]!.metricsUrl],
      ["decode", decode.metricsUrl],
    ] as const) {
      const text = await (await fetch(url)).text();
      assert.equal(promtoolCheckMetrics(text), "", `${name}: promtool check metrics`);
    }
  });

  it("the SGLang/vLLM recording rules pass promtool and give data under their names", async () => {
    assert.equal(promtoolCheckRules(RULES), null);
    const [from, to] = windowS;
    for (const expr of [
      "sum(sglang:prompt_tokens_total)",
      "sum(sglang:num_running_reqs)",
      "max(sglang:token_usage)",
      "max(sglang:cache_hit_rate)",
      "histogram_quantile(0.5, sum by (le) (rate(sglang:time_to_first_token_seconds_bucket[5s])))",
      "sum(rate(sglang:e2e_request_latency_seconds_count[5s]))",
      "sum(vllm:generation_tokens_total)",
      "sum(vllm:num_requests_waiting)",
      'sum(vllm:request_success_total{finished_reason="length"})',
      "max(vllm:kv_cache_usage_perc)",
      "sum(vllm:prefix_cache_hits_total)",
    ]) {
      const series = await prom.queryRange(expr, from, to);
      assert.ok(series.length > 0 && series[0]!.values.length > 0, `no data for ${expr}`);
    }
  });
});
