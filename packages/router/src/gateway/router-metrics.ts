/**
 * The router's Prometheus metrics: core's ServingMetrics with role="router" (the same names the
 * workers export, seen from the client's side: TTFT, inter-token, end-to-end, token counters,
 * finished requests by reason; gauges summed over the workers' last load reports) plus the
 * router-only series (every HTTP answer by endpoint, status, status class and error code; healthy
 * workers, retries by reason, circuit breakers open per worker).
 *
 * Outcomes: every answer is one radixserve_http_requests_total increment, 4xx/5xx and rejections
 * (API key, body limit, validation, no worker) included; `error_code` is the `code` of the
 * OpenAI error body ("none" for a success, "client_closed" when the client left a stream). A
 * generation request answered with an error also counts as radixserve_requests_total
 * {finish_reason="error"} (finished choices count by their own reason). The series of the two
 * generation endpoints exist at zero from the start for every catalog error code.
 */
import { ERRORS, ServingMetrics } from "@radixserve/core";
import { Counter, Gauge } from "prom-client";
import { ROUTER_ERRORS } from "../errors.js";
import type { WorkerPool } from "../workers/worker-pool.js";
import { ROUTER_METRIC } from "./metric-names.js";
import { RETRY_REASONS } from "./retry-policy.js";

/** The routes that run a generation (their failures count as finish_reason="error"). */
export const GENERATION_ENDPOINTS: ReadonlySet<string> = new Set(["/v1/chat/completions", "/v1/completions"]);

/** error_code of a stream the client closed before its end (HTTP 499, nginx's "client closed request"). */
export const CLIENT_CLOSED = "client_closed";

function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

export class RouterMetrics {
  readonly serving: ServingMetrics;
  readonly http: Counter<"endpoint" | "status" | "status_class" | "error_code">;
  readonly retries: Counter<"reason">;
  /** Answers of the generation endpoints since start, and how many were errors (the status page's rates). */
  readonly answers = { total: 0, errors: 0 };

  constructor(private readonly pool: WorkerPool | null) {
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
    this.http = new Counter({
      name: ROUTER_METRIC.httpRequestsTotal,
      help: "HTTP requests answered by the router, by endpoint, status code, status class and error code (none = success).",
      labelNames: ["endpoint", "status", "status_class", "error_code"],
      registers,
    });
    for (const endpoint of GENERATION_ENDPOINTS) {
      this.countAnswer(endpoint, 200, "none", 0);
      this.countAnswer(endpoint, 499, CLIENT_CLOSED, 0);
      for (const spec of [...Object.values(ERRORS), ...Object.values(ROUTER_ERRORS)])
        this.countAnswer(endpoint, spec.httpStatus, spec.code, 0);
    }
    this.retries = new Counter({
      name: ROUTER_METRIC.retriesTotal,
      help: "Choices retried on another worker before their first token, by reason (unavailable, draining, circuit_open, kv_transfer_failed).",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of RETRY_REASONS) this.retries.inc({ reason }, 0);
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

  /**
   * Counts one answer. `errorCode` is the OpenAI error body's code, null for a success. A
   * generation request that failed (not one whose client left) also counts as finish_reason="error".
   */
  recordAnswer(endpoint: string, status: number, errorCode: string | null): void {
    this.countAnswer(endpoint, status, errorCode ?? (status >= 400 ? "unknown" : "none"), 1);
    if (!GENERATION_ENDPOINTS.has(endpoint)) return;
    this.answers.total++;
    if (errorCode !== null && errorCode !== CLIENT_CLOSED) {
      this.answers.errors++;
      this.serving.requests.inc({ finish_reason: "error" });
    }
  }

  private countAnswer(endpoint: string, status: number, error_code: string, n: number): void {
    this.http.inc({ endpoint, status: String(status), status_class: statusClass(status), error_code }, n);
  }

  /** The Prometheus text, labelled with the served model's name once a worker has reported it. */
  async render(): Promise<{ contentType: string; body: string }> {
    const model = this.pool?.models()[0]?.modelId;
    if (model !== undefined) this.serving.setModelName(model);
    return this.serving.render();
  }
}
