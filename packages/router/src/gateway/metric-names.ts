/**
 * Router-only metric names. Everything the workers also export (TTFT, inter-token, end-to-end,
 * token counters, finished requests) uses core's METRIC_NAMES with role="router".
 */
export const ROUTER_METRIC = {
  httpRequestsTotal: "radixserve_http_requests_total",
  workersHealthy: "radixserve_router_workers_healthy",
} as const;
