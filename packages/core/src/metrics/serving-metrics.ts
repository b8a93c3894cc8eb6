import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { BUCKETS, METRIC_NAMES, type ProcessRole } from "./names.js";

/** Point-in-time values read at scrape time (e.g. from Scheduler.stats()). */
export interface ServingGaugeSource {
  running: number;
  queued: number;
  kvBlocksTotal: number;
  /** Free + evictable blocks. */
  kvBlocksFree: number;
  kvBlocksCached: number;
  cacheHitRate: number;
  preemptionsTotal: number;
}

export type FinishReasonLabel = "stop" | "length" | "abort" | "error";

/**
 * The serving metrics of one process, in its own registry, every series labelled with `role`.
 * Gauges are filled at scrape time from `source`; counters and histograms by the caller.
 */
export class ServingMetrics {
  readonly registry: Registry;
  readonly promptTokens: Counter;
  readonly generationTokens: Counter;
  readonly cachedTokens: Counter;
  readonly requests: Counter<"finish_reason">;
  readonly ttft: Histogram;
  readonly itl: Histogram;
  readonly e2e: Histogram;

  constructor(role: ProcessRole, source?: () => ServingGaugeSource, registry = new Registry()) {
    this.registry = registry;
    registry.setDefaultLabels({ role });
    const registers = [registry];
    const gauge = (name: string, help: string, read: (s: ServingGaugeSource) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          if (source) this.set(read(source()));
        },
      });
    gauge(
      METRIC_NAMES.numRequestsRunning,
      "Requests running (admitted, holding KV blocks).",
      (s) => s.running,
    );
    gauge(METRIC_NAMES.numRequestsQueued, "Requests waiting for admission.", (s) => s.queued);
    gauge(
      METRIC_NAMES.kvBlocksUsed,
      "KV blocks in use (not free, not evictable).",
      (s) => s.kvBlocksTotal - s.kvBlocksFree,
    );
    gauge(
      METRIC_NAMES.kvBlocksFree,
      "KV blocks free or evictable from the prefix cache.",
      (s) => s.kvBlocksFree,
    );
    gauge(METRIC_NAMES.kvBlocksCached, "KV blocks held by the prefix cache.", (s) => s.kvBlocksCached);
    gauge(
      METRIC_NAMES.cacheHitRate,
      "Prefix cache hit rate: cached prompt tokens / prompt tokens.",
      (s) => s.cacheHitRate,
    );
    gauge(
      METRIC_NAMES.preemptionsTotal,
      "Requests preempted (retracted for recompute) since start.",
      (s) => s.preemptionsTotal,
    );
    this.promptTokens = new Counter({
      name: METRIC_NAMES.promptTokensTotal,
      help: "Prompt tokens processed.",
      registers,
    });
    this.generationTokens = new Counter({
      name: METRIC_NAMES.generationTokensTotal,
      help: "Tokens generated.",
      registers,
    });
    this.cachedTokens = new Counter({
      name: METRIC_NAMES.cachedTokensTotal,
      help: "Prompt tokens served from the prefix cache.",
      registers,
    });
    this.requests = new Counter({
      name: METRIC_NAMES.requestsTotal,
      help: "Finished requests by finish reason.",
      labelNames: ["finish_reason"],
      registers,
    });
    this.ttft = new Histogram({
      name: METRIC_NAMES.timeToFirstTokenSeconds,
      help: "Time from arrival to the first generated token.",
      buckets: [...BUCKETS.timeToFirstToken],
      registers,
    });
    this.itl = new Histogram({
      name: METRIC_NAMES.interTokenLatencySeconds,
      help: "Time between consecutive generated tokens of a request.",
      buckets: [...BUCKETS.interTokenLatency],
      registers,
    });
    this.e2e = new Histogram({
      name: METRIC_NAMES.e2eRequestLatencySeconds,
      help: "Time from arrival to the last event of a request.",
      buckets: [...BUCKETS.e2eRequestLatency],
      registers,
    });
  }

  /** Records a finished request. */
  recordFinished(
    reason: FinishReasonLabel,
    usage?: { promptTokens: number; completionTokens: number; cachedTokens: number },
  ): void {
    this.requests.inc({ finish_reason: reason });
    if (usage) {
      this.promptTokens.inc(usage.promptTokens);
      this.generationTokens.inc(usage.completionTokens);
      this.cachedTokens.inc(usage.cachedTokens);
    }
  }

  /** Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
