/**
 * The cluster layer's Prometheus series on the router (prefix radixserve_router_, role="router"
 * from the registry's default labels):
 *
 *   radixserve_router_routing_decisions_total{stage,policy,reason}   one per pick
 *   radixserve_router_routed_prompt_blocks_total{stage,worker}       prompt blocks routed to a worker
 *   radixserve_router_predicted_hit_blocks_total{stage,worker}       of those, believed cached there
 *   radixserve_router_kv_index_blocks{worker,kind}                   index entries (kind exact|approx)
 *   radixserve_router_kv_resyncs_total{reason}                       snapshot resyncs started
 *   radixserve_router_kv_events_up                                   1 while NATS is connected
 *   radixserve_router_discovery_up                                   1 while Redis answers (absent without Redis)
 *   radixserve_router_worker_cache_hit_rate{worker}                  each worker's own reported hit rate
 *
 * predicted_hit / routed per worker is the router's view of the cache hit rate it steers toward;
 * worker_cache_hit_rate is what the workers measured.
 * `stage` is "unified", "prefill" or "decode": the pick site.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { RESYNC_REASONS } from "../kv-index/kv-event-follower.js";
import type { Pick } from "./policy.js";

export const ROUTING_METRIC = Object.freeze({
  decisionsTotal: "radixserve_router_routing_decisions_total",
  routedPromptBlocksTotal: "radixserve_router_routed_prompt_blocks_total",
  predictedHitBlocksTotal: "radixserve_router_predicted_hit_blocks_total",
  kvIndexBlocks: "radixserve_router_kv_index_blocks",
  kvResyncsTotal: "radixserve_router_kv_resyncs_total",
  kvEventsUp: "radixserve_router_kv_events_up",
  discoveryUp: "radixserve_router_discovery_up",
  workerCacheHitRate: "radixserve_router_worker_cache_hit_rate",
});

export type RouteStage = "unified" | "prefill" | "decode";

/** Scrape-time readers of the cluster state (each optional: a router without NATS has no index stats). */
export interface ClusterGaugeSource {
  indexStats?: () => Iterable<{ worker: string; exact: number; approx: number }>;
  eventsUp?: () => boolean;
  discoveryUp?: () => boolean;
  workerHitRates?: () => Iterable<{ worker: string; hitRate: number }>;
}

export class RoutingMetrics {
  private readonly decisions: Counter<"stage" | "policy" | "reason">;
  private readonly routedBlocks: Counter<"stage" | "worker">;
  private readonly hitBlocks: Counter<"stage" | "worker">;
  readonly resyncs: Counter<"reason">;

  constructor(registry: Registry, source: ClusterGaugeSource = {}) {
    const registers = [registry];
    this.decisions = new Counter({
      name: ROUTING_METRIC.decisionsTotal,
      help: "Routing decisions, by pick site, policy and reason.",
      labelNames: ["stage", "policy", "reason"],
      registers,
    });
    this.routedBlocks = new Counter({
      name: ROUTING_METRIC.routedPromptBlocksTotal,
      help: "Full prompt blocks of the requests routed to each worker.",
      labelNames: ["stage", "worker"],
      registers,
    });
    this.hitBlocks = new Counter({
      name: ROUTING_METRIC.predictedHitBlocksTotal,
      help: "Prompt blocks the router believed cached on the worker it chose (KV index).",
      labelNames: ["stage", "worker"],
      registers,
    });
    this.resyncs = new Counter({
      name: ROUTING_METRIC.kvResyncsTotal,
      help: "KV index resyncs from a worker snapshot, by cause.",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of RESYNC_REASONS) this.resyncs.inc({ reason }, 0);
    new Gauge({
      name: ROUTING_METRIC.kvIndexBlocks,
      help: "Blocks in the router's KV index per worker (exact: from events; approx: from routing).",
      labelNames: ["worker", "kind"],
      registers,
      collect() {
        this.reset();
        for (const s of source.indexStats?.() ?? []) {
          this.set({ worker: s.worker, kind: "exact" }, s.exact);
          this.set({ worker: s.worker, kind: "approx" }, s.approx);
        }
      },
    });
    if (source.eventsUp) {
      const up = source.eventsUp;
      new Gauge({
        name: ROUTING_METRIC.kvEventsUp,
        help: "1 while the router's NATS connection (KV events) is up.",
        registers,
        collect() {
          this.set(up() ? 1 : 0);
        },
      });
    }
    if (source.discoveryUp) {
      const up = source.discoveryUp;
      new Gauge({
        name: ROUTING_METRIC.discoveryUp,
        help: "1 while Redis (worker discovery) answers; 0 = routing on the last known worker set.",
        registers,
        collect() {
          this.set(up() ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: ROUTING_METRIC.workerCacheHitRate,
      help: "Prefix cache hit rate each worker reports (cached / prompt tokens since its start).",
      labelNames: ["worker"],
      registers,
      collect() {
        this.reset();
        for (const r of source.workerHitRates?.() ?? []) this.set({ worker: r.worker }, r.hitRate);
      },
    });
  }

  /** Counts one decision (pass as RouteSelector's onDecision, bound to a stage). */
  record(stage: RouteStage, policy: string, pick: Pick, promptBlocks: number): void {
    this.decisions.inc({ stage, policy, reason: pick.reason });
    if (promptBlocks > 0) {
      this.routedBlocks.inc({ stage, worker: pick.worker.id }, promptBlocks);
      if (pick.matchedBlocks > 0) this.hitBlocks.inc({ stage, worker: pick.worker.id }, pick.matchedBlocks);
    }
  }
}
