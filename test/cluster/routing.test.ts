/**
 * The cluster layer end to end, with real processes: redis-server, nats-server, three unified
 * workers (tiny model) that register in Redis and publish KV events, and cache-aware routers that
 * discover them.
 *
 * - shared-prefix workload: after a group's first request, its later requests land on the worker
 *   holding the prefix (worker-reported cached tokens + the router's cache_hit decisions);
 * - two router replicas fed by the same events make the same choices;
 * - graceful leave (SIGTERM) and kill -9: the router's view follows within the TTL and no request
 *   fails or goes to the dead worker after that;
 * - NATS and Redis restarts mid-load: requests keep succeeding, the index resyncs;
 * - routing metrics by policy and reason; per-worker cache hit rate.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ClusterServices,
  complete,
  metricSum,
  type RouterProc,
  routerHealth,
  servedModel,
  startClusterServices,
  type WorkerProc,
} from "./cluster-harness.js";
import { until } from "./services.js";

/** Group g's prompt: a 96-token shared prefix (6 blocks) + a distinct 20-token question. */
function prompt(g: number, q: number): number[] {
  const shared = Array.from({ length: 96 }, (_, i) => 100 + ((g * 37 + i * 11) % 400));
  const question = Array.from({ length: 20 }, (_, i) => 600 + ((q * 13 + i * 7 + g) % 300));
  return [...shared, ...question];
}

async function routerWorkers(r: RouterProc): Promise<number> {
  return (await routerHealth(r.url)).workers ?? 0;
}

describe("cluster/routing (real redis, nats, workers and routers)", { timeout: 300_000 }, () => {
  let c: ClusterServices;
  let workers: WorkerProc[] = [];
  let router: RouterProc;
  let model = "";

  before(async () => {
    c = await startClusterServices();
    workers = await Promise.all([c.startWorker(), c.startWorker(), c.startWorker()]);
    router = await c.startRouter(["--policy", "cache_aware:cache_threshold=0.5,balance_abs_threshold=8"]);
    assert.ok(
      await until(async () => (await routerWorkers(router)) === 3, 10_000),
      "router discovered 3 workers",
    );
    model = await servedModel(router.url);
  });
  after(async () => {
    await c?.stop();
  });

  it("sends each shared-prefix group to the worker that holds its prefix", async () => {
    const groups = 6;
    // Warm-up: each group's first request (a miss, spread by load).
    for (let g = 0; g < groups; g++)
      assert.equal((await complete(router.url, model, prompt(g, 0))).status, 200);
    const hitsBefore = await metricSum(`${router.url}/metrics`, "radixserve_router_routing_decisions_total", {
      policy: "cache_aware",
      reason: "cache_hit",
    });
    // Then 4 more questions per group, interleaved: each should hit the prefix (96 tokens cached).
    let cached = 0;
    let n = 0;
    for (let q = 1; q <= 4; q++) {
      for (let g = 0; g < groups; g++) {
        const r = await complete(router.url, model, prompt(g, q));
        assert.equal(r.status, 200, r.body);
        cached += r.cachedTokens;
        n++;
        assert.ok(r.cachedTokens >= 96, `group ${g} question ${q}: only ${r.cachedTokens} cached tokens`);
      }
    }
    const hits =
      (await metricSum(`${router.url}/metrics`, "radixserve_router_routing_decisions_total", {
        policy: "cache_aware",
        reason: "cache_hit",
      })) - hitsBefore;
    assert.equal(hits, n, "every follow-up was a cache_hit decision");
    assert.ok(cached / n >= 96);
    // The groups were spread: more than one worker served prompts.
    let busy = 0;
    for (const w of workers)
      if ((await metricSum(w.metricsUrl, "radixserve_prompt_tokens_total")) > 0) busy++;
    assert.ok(busy >= 2, `only ${busy} worker(s) served the groups`);
    // The router's index follows the workers' events (exact entries, not only its own guesses).
    assert.ok(
      (await metricSum(`${router.url}/metrics`, "radixserve_router_kv_index_blocks", { kind: "exact" })) >=
        groups * 6,
    );
    assert.equal(await metricSum(`${router.url}/metrics`, "radixserve_router_kv_events_up"), 1);
    assert.equal(await metricSum(`${router.url}/metrics`, "radixserve_router_discovery_up"), 1);
  });

  it("the imbalance guard spreads a flood of one prefix over the other workers", async () => {
    const before = await metricSum(`${router.url}/metrics`, "radixserve_router_routing_decisions_total", {
      reason: "imbalance",
    });
    // 16 concurrent requests of group 0: its holder's in-flight count passes the threshold (8).
    const rs = await Promise.all(
      Array.from({ length: 16 }, (_, i) => complete(router.url, model, prompt(0, 50 + i), 24)),
    );
    for (const r of rs) assert.equal(r.status, 200, r.body);
    const imbalance =
      (await metricSum(`${router.url}/metrics`, "radixserve_router_routing_decisions_total", {
        reason: "imbalance",
      })) - before;
    assert.ok(imbalance >= 1, "the guard fired");
    assert.ok(rs.filter((r) => r.cachedTokens < 96).length >= 1, "some requests went off the prefix holder");
  });

  it("a second router replica fed by the same events makes the same choices", async () => {
    const r2 = await c.startRouter(["--policy", "cache_aware:cache_threshold=0.5,balance_abs_threshold=8"]);
    assert.ok(await until(async () => (await routerWorkers(r2)) === 3, 10_000));
    // Give it time to resync every worker's snapshot.
    await until(
      async () =>
        (await metricSum(`${r2.url}/metrics`, "radixserve_router_kv_index_blocks", { kind: "exact" })) >= 36,
      5000,
    );
    const before1 = await metricSum(`${router.url}/metrics`, "radixserve_router_predicted_hit_blocks_total");
    const before2 = await metricSum(`${r2.url}/metrics`, "radixserve_router_predicted_hit_blocks_total");
    for (let g = 0; g < 6; g++) {
      const a = await complete(router.url, model, prompt(g, 10 + g));
      const b = await complete(r2.url, model, prompt(g, 20 + g));
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.ok(b.cachedTokens >= 96, `replica 2 missed group ${g}'s prefix (${b.cachedTokens} cached)`);
    }
    const d1 =
      (await metricSum(`${router.url}/metrics`, "radixserve_router_predicted_hit_blocks_total")) - before1;
    const d2 =
      (await metricSum(`${r2.url}/metrics`, "radixserve_router_predicted_hit_blocks_total")) - before2;
    assert.equal(d1, d2, "both replicas predicted the same hits");
    await r2.stop();
  });

  it("keeps serving through NATS and Redis restarts, and resyncs the index", async () => {
    const load = async (n: number, base: number) => {
      for (let i = 0; i < n; i++) {
        const r = await complete(router.url, model, prompt(i % 6, base + i));
        assert.equal(r.status, 200, r.body);
      }
    };
    const resyncs0 = await metricSum(`${router.url}/metrics`, "radixserve_router_kv_resyncs_total");
    await c.nats.kill();
    await load(4, 100); // approximate routing meanwhile
    assert.equal(await metricSum(`${router.url}/metrics`, "radixserve_router_kv_events_up"), 0);
    await c.nats.start();
    assert.ok(
      await until(
        async () => (await metricSum(`${router.url}/metrics`, "radixserve_router_kv_events_up")) === 1,
        10_000,
      ),
    );
    assert.ok(
      await until(
        async () =>
          (await metricSum(`${router.url}/metrics`, "radixserve_router_kv_resyncs_total")) >= resyncs0 + 3,
        10_000,
      ),
      "every worker resynced after NATS came back",
    );
    await load(4, 200);
    await c.redis.kill();
    await load(4, 300); // last known worker set
    assert.ok(
      await until(
        async () => (await metricSum(`${router.url}/metrics`, "radixserve_router_discovery_up")) === 0,
        5000,
      ),
    );
    assert.equal(await routerWorkers(router), 3);
    await c.redis.start();
    assert.ok(
      await until(
        async () => (await metricSum(`${router.url}/metrics`, "radixserve_router_discovery_up")) === 1,
        10_000,
      ),
    );
    await new Promise((r) => setTimeout(r, 2000)); // past the TTL: the workers re-registered
    assert.equal(await routerWorkers(router), 3);
    await load(4, 400);
  });

  it("follows a graceful leave and a kill -9; no request fails or reaches the dead worker", async () => {
    const [w0, w1] = workers;
    await w0!.stop(); // SIGTERM: deregisters, drains
    assert.ok(
      await until(async () => (await routerWorkers(router)) === 2, 2000),
      "graceful leave seen at once",
    );
    const killedAt = Date.now();
    await w1!.kill();
    assert.ok(await until(async () => (await routerWorkers(router)) === 1, 5000), "kill -9 seen");
    const took = Date.now() - killedAt;
    assert.ok(took <= 1500 + 200 + 1000, `the router dropped the killed worker after ${took} ms (TTL 1500)`);
    for (let i = 0; i < 6; i++) {
      const r = await complete(router.url, model, prompt(i, 500 + i));
      assert.equal(r.status, 200, r.body);
    }
    assert.equal(workers[2]!.proc.exitCode, null);
  });
});
