/**
 * The ONE metric naming scheme of RadixServe (prefix radixserve_). Every process (router, unified,
 * prefill and decode workers) uses these constants, every series carries a `role` label
 * (unified | prefill | decode | router) and a `model_name` label (the served model name), and the
 * Grafana dashboards use exactly these names.
 *
 * Conventions (Prometheus'): counters end in `_total` and never go down; a unit is the last word
 * of the name in base units (`_seconds`, `_bytes`, `_bytes_per_second`); ratios are 0..1. A
 * labelled counter is created at zero for every label value it can take, so the first increment
 * is a visible step for rate()/increase() instead of the birth of a new series.
 */
export const METRIC_PREFIX = "radixserve_";

export const METRIC_NAMES = Object.freeze({
  numRequestsRunning: "radixserve_num_requests_running",
  numRequestsQueued: "radixserve_num_requests_queued",
  kvBlocksUsed: "radixserve_kv_blocks_used",
  kvBlocksFree: "radixserve_kv_blocks_free",
  kvBlocksCached: "radixserve_kv_blocks_cached",
  cacheHitRate: "radixserve_cache_hit_rate",
  promptTokensTotal: "radixserve_prompt_tokens_total",
  generationTokensTotal: "radixserve_generation_tokens_total",
  cachedTokensTotal: "radixserve_cached_tokens_total",
  preemptionsTotal: "radixserve_preemptions_total",
  timeToFirstTokenSeconds: "radixserve_time_to_first_token_seconds",
  interTokenLatencySeconds: "radixserve_inter_token_latency_seconds",
  e2eRequestLatencySeconds: "radixserve_e2e_request_latency_seconds",
  requestsTotal: "radixserve_requests_total",
});

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

export type ProcessRole = "unified" | "prefill" | "decode" | "router";

/** Every value of `finish_reason` (radixserve_requests_total); each series exists from the start. */
export const FINISH_REASONS = Object.freeze(["stop", "length", "abort", "error"] as const);

/** Histogram buckets (seconds). TTFT spans queueing + prefill; ITL is one decode step. */
export const BUCKETS = Object.freeze({
  timeToFirstToken: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  interTokenLatency: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5],
  e2eRequestLatency: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300],
});

/** KV transfer between prefill and decode workers; same prefix and `role` label. */
export const KV_TRANSFER_METRIC_NAMES = Object.freeze({
  bytesTotal: "radixserve_kv_transfer_bytes_total",
  blocksTotal: "radixserve_kv_transfer_blocks_total",
  latencySeconds: "radixserve_kv_transfer_latency_seconds",
  throughputBytesPerSecond: "radixserve_kv_transfer_throughput_bytes_per_second",
  failuresTotal: "radixserve_kv_transfer_failures_total",
  localPrefillsTotal: "radixserve_local_prefills_total",
  reservationQueue: "radixserve_kv_reservation_queue_size",
  transfersInFlight: "radixserve_kv_transfers_in_flight",
  quarantinedBlocks: "radixserve_kv_quarantined_blocks",
});

export const KV_TRANSFER_BUCKETS = Object.freeze({
  latency: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  /** Bytes per second: 50 MB/s .. 16 GB/s. */
  throughput: [5e7, 1e8, 2.5e8, 5e8, 1e9, 2e9, 4e9, 8e9, 1.6e10],
});
