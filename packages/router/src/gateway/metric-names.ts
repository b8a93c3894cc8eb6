/**
 * Router-only metric names. Everything the workers also export (TTFT, inter-token, end-to-end,
 * token counters, finished requests) uses core's METRIC_NAMES with role="router".
 */
export const ROUTER_METRIC = {
  httpRequestsTotal: "radixserve_http_requests_total",
  workersHealthy: "radixserve_router_workers_healthy",
  /** Retries of a choice on another worker before its first token, by reason (retry-policy.ts). */
  retriesTotal: "radixserve_router_retries_total",
  /** 1 while a worker's circuit breaker is open (no picks), else 0; one series per worker. */
  circuitOpen: "radixserve_router_circuit_open",
} as const;
