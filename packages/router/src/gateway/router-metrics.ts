/**
 * The router's Prometheus metrics: core's ServingMetrics with role="router" (the same names the
 * workers export, seen from the client's side: TTFT, inter-token, end-to-end, token counters,
 * finished requests by reason; gauges summed over the workers' last load reports) plus the
 * router-only series (HTTP answers by endpoint and status, healthy workers, retries by reason,
 * circuit breakers open per worker).
 */
import { ServingMetrics } from "@radixserve/core";
import { Counter, collectDefaultMetrics, Gauge } from "prom-client";
import type { WorkerPool } from "../workers/worker-pool.js";
import { ROUTER_METRIC } from "./metric-names.js";

export class RouterMetrics {
  readonly serving: ServingMetrics;
  readonly http: Counter<"endpoint" | "status">;
  readonly retries: Counter<"reason">;

  constructor(pool: WorkerPool | null) {
    this.serving = new ServingMetrics("router", () => {
      const workers = pool?.snapshot() ?? [];
      let prompt = 0;
      let hits = 0;
      const sum = { running: 0, queued: 0, kvBlocksTotal: 0, kvBlocksFree: 0, kvBlocksCached: 0 };
      for (const w of workers) {
        sum.running += w.inFlight;
        if (!w.load) continue;
        sum.queued += w.load.queuedRequests;
        sum.kvBlocksTotal += w.load.kvBlocksTotal;
        sum.kvBlocksFree += w.load.kvBlocksFree;
        sum.kvBlocksCached += w.load.kvBlocksCached;
        prompt += 1;
        hits += w.load.cacheHitRate;
      }
      return { ...sum, cacheHitRate: prompt === 0 ? 0 : hits / prompt, preemptionsTotal: 0 };
    });
    const registers = [this.serving.registry];
    collectDefaultMetrics({ register: this.serving.registry });
    this.http = new Counter({
      name: ROUTER_METRIC.httpRequestsTotal,
      help: "HTTP requests answered by the router, by endpoint and status code.",
      labelNames: ["endpoint", "status"],
      registers,
    });
    this.retries = new Counter({
      name: ROUTER_METRIC.retriesTotal,
      help: "Choices retried on another worker before their first token, by reason (unavailable, draining, circuit_open, kv_transfer_failed).",
      labelNames: ["reason"],
      registers,
    });
    new Gauge({
      name: ROUTER_METRIC.circuitOpen,
      help: "1 while the worker's circuit breaker is open (transport failures; no picks until its cooldown passes).",
      labelNames: ["worker"],
      registers,
      collect() {
        this.reset();
        for (const w of pool?.snapshot() ?? []) this.set({ worker: w.address }, w.breaker === "open" ? 1 : 0);
      },
    });
    new Gauge({
      name: ROUTER_METRIC.workersHealthy,
      help: "Workers that answered their last health/load poll.",
      registers,
      collect() {
        if (pool) this.set(pool.healthyCount());
      },
    });
  }

  get registry() {
    return this.serving.registry;
  }
}
