/**
 * The router's bounded retries with real processes: three unified workers found in Redis, a
 * round_robin router whose load poll is slow (10 s) so it still believes in a worker that was just
 * killed with SIGKILL. Requests that land on the dead worker fail before their first token and are
 * retried on a live one: every request succeeds, radixserve_router_retries_total{reason="unavailable"}
 * counts the retries, and the router's in-flight count is back to 0 afterwards.
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

describe("cluster/router retries (kill -9 of a worker between requests)", { timeout: 300_000 }, () => {
  let c: ClusterServices;
  let workers: WorkerProc[] = [];
  let router: RouterProc;
  let model = "";

  before(async () => {
    c = await startClusterServices();
    workers = await Promise.all([c.startWorker(), c.startWorker(), c.startWorker()]);
    router = await c.startRouter([
      "--policy",
      "round_robin",
      "--worker-poll-ms",
      "10000",
      "--max-retries",
      "2",
      "--retry-backoff-ms",
      "20",
    ]);
    assert.ok(
      await until(async () => (await routerHealth(router.url)).workers_healthy === 3, 15_000),
      "router sees 3 healthy workers",
    );
    model = await servedModel(router.url);
  });
  after(async () => {
    await c?.stop();
  });

  const metric = (name: string, labels: Record<string, string> = {}) =>
    metricSum(`${router.url}/metrics`, name, labels);
  const prompt = (i: number) => Array.from({ length: 20 }, (_, k) => 100 + ((i * 31 + k * 7) % 500));

  it("serves every request after a worker is killed, retrying the ones sent to it", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await complete(router.url, model, prompt(i))).status, 200);
    assert.equal(await metric("radixserve_router_retries_total"), 0, "no retries while all are alive");
    await workers[0]!.kill();
    const statuses: number[] = [];
    // Sequential: round_robin sends one of every three to the dead worker until it is marked failed.
    for (let i = 0; i < 6; i++) statuses.push((await complete(router.url, model, prompt(10 + i))).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    const retries = await metric("radixserve_router_retries_total", { reason: "unavailable" });
    assert.ok(retries >= 1, `retries counted (${retries})`);
    assert.equal(await metric("radixserve_router_retries_total"), retries, "all for the unavailable worker");
    // Load counters moved back on the failed attempts too: nothing in flight on the router.
    assert.equal(await metric("radixserve_num_requests_running", { role: "router" }), 0);
  });

  it("a burst right after a second kill: all answered, nothing left in flight", async () => {
    await workers[1]!.kill();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => complete(router.url, model, prompt(40 + i))),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(8).fill(200),
    );
    assert.equal(await metric("radixserve_num_requests_running", { role: "router" }), 0);
    assert.ok((await metric("radixserve_router_retries_total", { reason: "unavailable" })) >= 2);
  });
});
