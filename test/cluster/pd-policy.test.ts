/**
 * PD mode through discovery: two prefill workers and one decode worker register in Redis and
 * publish KV events; the router's --prefill-policy (cache_aware) sends each shared-prefix group to
 * the prefill worker that holds its prefix, and its --decode-policy picks the decode worker.
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

function prompt(g: number, q: number): number[] {
  const shared = Array.from({ length: 64 }, (_, i) => 100 + ((g * 41 + i * 13) % 400));
  const question = Array.from({ length: 20 }, (_, i) => 600 + ((q * 17 + i * 5 + g) % 300));
  return [...shared, ...question];
}

describe("cluster/pd-policy (prefill + decode workers found in Redis)", { timeout: 300_000 }, () => {
  let c: ClusterServices;
  let prefill: WorkerProc[] = [];
  let router: RouterProc;
  let model = "";

  before(async () => {
    c = await startClusterServices();
    const pd = ["--disagg-prefill-threshold", "0"];
    prefill = await Promise.all([
      c.startWorker(["--disagg-mode", "prefill", ...pd]),
      c.startWorker(["--disagg-mode", "prefill", ...pd]),
    ]);
    await c.startWorker(["--disagg-mode", "decode", ...pd]);
    router = await c.startRouter([
      "--prefill-policy",
      "cache_aware:cache_threshold=0.5",
      "--decode-policy",
      "power_of_two",
    ]);
    assert.ok(
      await until(async () => (await routerHealth(router.url)).workers === 3, 10_000),
      "router discovered 3 workers",
    );
    model = await servedModel(router.url);
  });
  after(async () => {
    await c?.stop();
  });

  it("routes each group's prefill to the prefill worker holding its prefix", async () => {
    for (let g = 0; g < 4; g++) assert.equal((await complete(router.url, model, prompt(g, 0))).status, 200);
    const hits0 = await metricSum(`${router.url}/metrics`, "radixserve_router_routing_decisions_total", {
      stage: "prefill",
      reason: "cache_hit",
    });
    for (let q = 1; q <= 2; q++)
      for (let g = 0; g < 4; g++) {
        const r = await complete(router.url, model, prompt(g, q));
        assert.equal(r.status, 200, r.body);
      }
    const hits =
      (await metricSum(`${router.url}/metrics`, "radixserve_router_routing_decisions_total", {
        stage: "prefill",
        reason: "cache_hit",
      })) - hits0;
    assert.equal(hits, 8, "every follow-up prefill was a cache_hit decision");
    const decode = await metricSum(`${router.url}/metrics`, "radixserve_router_routing_decisions_total", {
      stage: "decode",
      policy: "power_of_two",
    });
    assert.ok(decode >= 12, `decode picks by power_of_two: ${decode}`);
    // Both prefill workers took groups (misses spread by load), and the router predicted the hits.
    for (const p of prefill) {
      const routed = await metricSum(
        `${router.url}/metrics`,
        "radixserve_router_routed_prompt_blocks_total",
        {
          stage: "prefill",
          worker: p.address,
        },
      );
      assert.ok(routed > 0, `prefill worker ${p.address} got no prompt`);
    }
    const predicted = await metricSum(
      `${router.url}/metrics`,
      "radixserve_router_predicted_hit_blocks_total",
      {
        stage: "prefill",
      },
    );
    assert.ok(predicted >= 8 * 4, `predicted prefix blocks on prefill workers: ${predicted}`);
    // The index follows the prefill workers' own KV events (exact entries).
    for (const p of prefill)
      assert.ok(
        (await metricSum(`${router.url}/metrics`, "radixserve_router_kv_index_blocks", {
          worker: p.address,
          kind: "exact",
        })) > 0,
        `no KV events from ${p.address}`,
      );
  });
});
