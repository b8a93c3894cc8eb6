import assert from "node:assert/strict";
import { test } from "node:test";
import { startObservabilityServer } from "../src/metrics/http-server.js";
import { FINISH_REASONS, METRIC_NAMES } from "../src/metrics/names.js";
import { ServingMetrics } from "../src/metrics/serving-metrics.js";

test("metrics: every name in METRIC_NAMES is exposed with the radixserve_ prefix and the role label", async () => {
  const m = new ServingMetrics("unified", () => ({
    running: 2,
    queued: 1,
    kvBlocksTotal: 100,
    kvBlocksFree: 70,
    kvBlocksCached: 12,
    cacheHitRate: 0.25,
    preemptionsTotal: 3,
  }));
  m.recordFinished("length", { promptTokens: 10, completionTokens: 5, cachedTokens: 4 });
  m.ttft.observe(0.02);
  m.itl.observe(0.01);
  m.e2e.observe(0.5);
  const { body } = await m.render();
  for (const name of Object.values(METRIC_NAMES)) {
    assert.match(name, /^radixserve_[a-z0-9_]+$/);
    assert.ok(body.includes(`# TYPE ${name} `), `${name} exposed`);
  }
  assert.match(body, /radixserve_num_requests_running\{role="unified"\} 2/);
  assert.match(body, /radixserve_kv_blocks_used\{role="unified"\} 30/);
  assert.match(body, /radixserve_kv_blocks_free\{role="unified"\} 70/);
  assert.match(body, /radixserve_cache_hit_rate\{role="unified"\} 0.25/);
  assert.match(body, /radixserve_requests_total\{finish_reason="length",role="unified"\} 1/);
  assert.match(body, /radixserve_cached_tokens_total\{role="unified"\} 4/);
  assert.match(body, /radixserve_time_to_first_token_seconds_count\{role="unified"\} 1/);
});

test("metrics: the observability server serves /metrics and /health, 404 elsewhere", async () => {
  const m = new ServingMetrics("decode");
  let ok = true;
  const srv = await startObservabilityServer({
    host: "127.0.0.1",
    port: 0,
    registry: m.registry,
    health: () => ({ ok, body: { status: ok ? "serving" : "draining" } }),
  });
  try {
    const base = `http://127.0.0.1:${srv.port}`;
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /radixserve_requests_total/);
    assert.equal((await fetch(`${base}/health`)).status, 200);
    ok = false;
    const h = await fetch(`${base}/health`);
    assert.equal(h.status, 503);
    assert.deepEqual(await h.json(), { status: "draining" });
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  } finally {
    await srv.close();
  }
});

test("metrics: labelled counters exist at zero, totals kept elsewhere are counters, model_name labels every series", async () => {
  let preemptions = 0;
  const totals = { prompt: 0, cached: 0, generated: 0 };
  const m = new ServingMetrics(
    "prefill",
    () => ({
      running: 0,
      queued: 0,
      kvBlocksTotal: 8,
      kvBlocksFree: 8,
      kvBlocksCached: 0,
      cacheHitRate: 0,
      preemptionsTotal: preemptions,
    }),
    { modelName: "tiny-x", tokenTotals: () => totals },
  );
  let body = (await m.render()).body;
  for (const reason of FINISH_REASONS)
    assert.match(
      body,
      new RegExp(
        `radixserve_requests_total\\{finish_reason="${reason}",role="prefill",model_name="tiny-x"\\} 0`,
      ),
    );
  assert.match(body, /# TYPE radixserve_preemptions_total counter/);
  assert.doesNotMatch(body, /nodejs_active_handles_total/, "a gauge named _total breaks promtool's lint");
  assert.match(body, /process_resident_memory_bytes\{role="prefill",model_name="tiny-x"\}/);
  preemptions = 3;
  Object.assign(totals, { prompt: 100, cached: 48, generated: 2 });
  body = (await m.render()).body;
  assert.match(body, /radixserve_preemptions_total\{role="prefill",model_name="tiny-x"\} 3/);
  assert.match(body, /radixserve_prompt_tokens_total\{role="prefill",model_name="tiny-x"\} 100/);
  assert.match(body, /radixserve_cached_tokens_total\{role="prefill",model_name="tiny-x"\} 48/);
  assert.match(body, /radixserve_generation_tokens_total\{role="prefill",model_name="tiny-x"\} 2/);
  preemptions = 5;
  totals.prompt = 130;
  body = (await m.render()).body;
  assert.match(body, /radixserve_preemptions_total\{role="prefill",model_name="tiny-x"\} 5/);
  assert.match(body, /radixserve_prompt_tokens_total\{role="prefill",model_name="tiny-x"\} 130/);
});
