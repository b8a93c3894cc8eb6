/**
 * The metric catalog the dashboards are checked against: every name of the one naming scheme
 * (core's METRIC_NAMES, KV_TRANSFER_METRIC_NAMES and STEP_METRIC_NAMES, the router's ROUTER_METRIC and
 * ROUTING_METRIC), with the type and label names each has when the real metric classes register
 * it. A name only counts when a process really registers it, so a catalog entry nobody exports
 * cannot hide a dead dashboard panel.
 */
import {
  KV_TRANSFER_METRIC_NAMES,
  METRIC_NAMES,
  METRIC_PREFIX,
  ServingMetrics,
  SPECULATIVE_METRIC_NAMES,
  SpeculativeMetrics,
  STEP_METRIC_NAMES,
} from "@radixserve/core";
import { KvTransferMetrics } from "@radixserve/kv-transfer";
import { ROUTER_METRIC, ROUTING_METRIC, RouterMetrics, RoutingMetrics } from "@radixserve/router";
import { StepMetrics } from "@radixserve/worker";
import type { Registry } from "prom-client";

export type MetricType = "counter" | "gauge" | "histogram" | "summary";

export interface MetricInfo {
  name: string;
  type: MetricType;
  /** Label names the process sets, with the registry's default labels (`role`, `model_name`). */
  labels: ReadonlySet<string>;
}

/** Labels Prometheus adds when it scrapes (Prometheus Operator monitors add pod, namespace, ...). */
export const SCRAPE_LABELS: ReadonlySet<string> = new Set([
  "namespace",
  "pod",
  "container",
  "service",
  "endpoint",
  "instance",
  "job",
]);

/** Every name of the naming scheme, from the catalogs the processes use. */
export function catalogNames(): Set<string> {
  return new Set<string>([
    ...Object.values(METRIC_NAMES),
    ...Object.values(KV_TRANSFER_METRIC_NAMES),
    ...Object.values(STEP_METRIC_NAMES),
    ...Object.values(SPECULATIVE_METRIC_NAMES),
    ...Object.values(ROUTER_METRIC),
    ...Object.values(ROUTING_METRIC),
  ]);
}

interface PromMetric {
  name: string;
  labelNames?: readonly string[];
}

/** Registers the metrics exactly as the worker and router processes do, and reads them back. */
export async function registeredMetrics(): Promise<Map<string, MetricInfo>> {
  const worker = new ServingMetrics("decode", undefined, { modelName: "catalog" });
  new KvTransferMetrics(worker.registry, {
    reservationQueue: () => 0,
    transfersInFlight: () => 0,
    quarantinedBlocks: () => 0, // a decode worker's
  });
  new StepMetrics(worker.registry);
  new SpeculativeMetrics(worker.registry); // a worker with --speculative-algorithm
  const router = new RouterMetrics(null);
  router.serving.setModelName("catalog"); // as a router does once a worker has reported its model
  // RoutingMetrics registers its gauges only when given a source, as a router with NATS and Redis does.
  new RoutingMetrics(router.registry, { eventsUp: () => true, discoveryUp: () => true });
  const out = new Map<string, MetricInfo>();
  for (const registry of [worker.registry, router.registry] as Registry[]) {
    const all = await registry.getMetricsAsJSON();
    // The registry's default labels (role, model_name), as the values of an unlabelled metric carry them.
    const defaults = new Set<string>();
    for (const json of all) {
      const metric = registry.getSingleMetric(json.name) as unknown as PromMetric | undefined;
      if ((metric?.labelNames ?? []).length > 0) continue;
      for (const v of json.values) for (const l of Object.keys(v.labels)) if (l !== "le") defaults.add(l);
    }
    for (const json of all) {
      if (!json.name.startsWith(METRIC_PREFIX)) continue;
      const metric = registry.getSingleMetric(json.name) as unknown as PromMetric | undefined;
      const labels = new Set<string>([...defaults, ...(metric?.labelNames ?? [])]);
      out.set(json.name, { name: json.name, type: String(json.type) as MetricType, labels });
    }
  }
  return out;
}
