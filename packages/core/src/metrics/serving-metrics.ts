import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { BUCKETS, FINISH_REASONS, METRIC_NAMES, type ProcessRole } from "./names.js";

/** Point-in-time values read at scrape time (e.g. from Scheduler.stats()). */
export interface ServingGaugeSource {
  running: number;
  queued: number;
  kvBlocksTotal: number;
  /** Free + evictable blocks. */
  kvBlocksFree: number;
  kvBlocksCached: number;
  cacheHitRate: number;
  /** Monotonic count since start (exported as a counter). */
  preemptionsTotal: number;
}

/** Monotonic token counts since start, for a process that keeps them itself (the prefill scheduler). */
export interface TokenTotals {
  prompt: number;
  cached: number;
  generated: number;
}

export type FinishReasonLabel = (typeof FINISH_REASONS)[number];

export interface ServingMetricsOptions {
  /** The served model name: the `model_name` label of every series (omitted when undefined). */
  modelName?: string | undefined;
  /**
   * Token counters read at scrape time instead of counted by recordFinished (a prefill worker's
   * scheduler counts prompt, cached and first tokens as it admits and computes prompts).
   */
  tokenTotals?: (() => TokenTotals) | undefined;
  /** Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
  registry?: Registry;
}

/** prom-client's default metrics that are gauges named `_total`; their per-type twins carry the same values. */
const MISNAMED_DEFAULT_GAUGES = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/**
 * A counter that follows a monotonic total kept elsewhere: at each scrape it adds what the total
 * grew by since the last scrape (a total that went down, e.g. a restarted component, adds nothing).
 */
function followTotal(counter: Counter, read: () => number): void {
  let last = 0;
  // prom-client calls collect() before reading a metric; set it after construction to keep `read` typed.
  (counter as unknown as { collect: () => void }).collect = () => {
    const now = read();
    if (now > last) counter.inc(now - last);
    last = now;
  };
}

/**
 * The serving metrics of one process, in its own registry, every series labelled with `role` (and
 * `model_name` when given). Gauges are filled at scrape time from `source`; counters and
 * histograms by the caller, or from `tokenTotals`.
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
  private readonly role: ProcessRole;

  constructor(role: ProcessRole, source?: () => ServingGaugeSource, opts: ServingMetricsOptions = {}) {
    const registry = opts.registry ?? new Registry();
    this.registry = registry;
    this.role = role;
    this.setModelName(opts.modelName);
    if (opts.processMetrics ?? true) {
      collectDefaultMetrics({ register: registry });
      for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
    }
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
      "Prefix cache hit rate (0..1): cached prompt tokens / prompt tokens since start.",
      (s) => s.cacheHitRate,
    );
    const preemptions = new Counter({
      name: METRIC_NAMES.preemptionsTotal,
      help: "Requests preempted (retracted for recompute).",
      registers,
    });
    if (source) followTotal(preemptions, () => source().preemptionsTotal);
    this.promptTokens = new Counter({
      name: METRIC_NAMES.promptTokensTotal,
      help: "Prompt tokens processed (cached ones included).",
      registers,
    });
    this.generationTokens = new Counter({
      name: METRIC_NAMES.generationTokensTotal,
      help: "Tokens generated (a prefill worker generates each request's first token).",
      registers,
    });
    this.cachedTokens = new Counter({
      name: METRIC_NAMES.cachedTokensTotal,
      help: "Prompt tokens served from the prefix cache.",
      registers,
    });
    const totals = opts.tokenTotals;
    if (totals) {
      followTotal(this.promptTokens, () => totals().prompt);
      followTotal(this.cachedTokens, () => totals().cached);
      followTotal(this.generationTokens, () => totals().generated);
    }
    this.requests = new Counter({
      name: METRIC_NAMES.requestsTotal,
      help: "Requests by finish reason (stop, length, abort: client gone or deadline, error: failed or rejected).",
      labelNames: ["finish_reason"],
      registers,
    });
    for (const finish_reason of FINISH_REASONS) this.requests.inc({ finish_reason }, 0);
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

  /**
   * Sets the `model_name` label of every series (the router learns it from its workers). Call it
   * before the first scrape where possible: a label that changes starts new series.
   */
  setModelName(modelName: string | undefined): void {
    const labels: Record<string, string> = { role: this.role };
    if (modelName !== undefined) labels["model_name"] = modelName;
    this.registry.setDefaultLabels(labels);
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
