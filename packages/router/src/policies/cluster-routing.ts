/**
 * The router's cluster layer in one object, built from its flags: the routing policy
 * (RouteSelector over the shared KvIndex), the KV-event plumbing (KvSync: NATS, optional), and
 * the worker set (static --worker-urls, plus Redis discovery when --redis-url is given). It feeds
 * joins and leaves to the worker pool and the KV index alike, and exports the routing metrics.
 *
 * A worker's id in the index, in discovery and in KV events is its gRPC address as the router
 * dials it (WorkerRecord.workerId == grpcAddress, the worker's --advertise-address).
 */

import { WorkerDiscovery, type WorkerRecord } from "@radixserve/cluster";
import { getLogger } from "@radixserve/core";
import type { Registry } from "prom-client";
import { KvSync } from "../kv-index/kv-sync.js";
import { createPolicy, type PolicyConfig } from "./registry.js";
import { RouteSelector } from "./route-selector.js";
import { type RouteStage, RoutingMetrics } from "./routing-metrics.js";

const log = getLogger("router");

/** What the cluster layer needs from the worker pool. */
export interface DynamicWorkerSet {
  addWorker(address: string): void;
  removeWorker(address: string): boolean;
  snapshot(): readonly { address: string; load: { cacheHitRate: number } | null }[];
}

export interface ClusterRoutingOptions {
  /** --policy (unified pick site). */
  policy: PolicyConfig | string;
  /** --prefill-policy (PD: which prefill worker computes the prompt). Default: `policy`. */
  prefillPolicy?: PolicyConfig | string | undefined;
  /** --decode-policy (PD: which decode worker runs the request). Default: `policy`. */
  decodePolicy?: PolicyConfig | string | undefined;
  /** Static workers (--worker-urls). */
  workerUrls?: readonly string[] | undefined;
  redisUrl?: string | undefined;
  natsUrl?: string | undefined;
  /** Discovery safety-net scan. Default 1000 ms. */
  discoveryScanMs?: number | undefined;
  /** Only these roles are routed to (unified router: ["unified"]). Default: every role. */
  roles?: readonly WorkerRecord["role"][] | undefined;
}

export class ClusterRouting {
  readonly kv: KvSync;
  /** The unified pick (--policy). */
  readonly selector: RouteSelector;
  /** PD: the prefill pick (--prefill-policy). */
  readonly prefillSelector: RouteSelector;
  /** PD: the decode pick (--decode-policy). */
  readonly decodeSelector: RouteSelector;
  readonly discovery: WorkerDiscovery | null;
  private metrics: RoutingMetrics | null = null;
  private workers: DynamicWorkerSet | null = null;

  constructor(private readonly opts: ClusterRoutingOptions) {
    this.kv = new KvSync({
      natsUrl: opts.natsUrl,
      onResync: (_id, reason) => this.metrics?.resyncs.inc({ reason }),
    });
    // One selector per pick site, all over the one index (each site's candidates have one role).
    const selector = (policy: PolicyConfig | string, stage: RouteStage) =>
      new RouteSelector({
        policy: createPolicy(policy),
        index: this.kv.index,
        follower: this.kv.follower,
        onDecision: (name, _reason, pick, blocks) => this.metrics?.record(stage, name, pick, blocks),
      });
    this.selector = selector(opts.policy, "unified");
    this.prefillSelector = selector(opts.prefillPolicy ?? opts.policy, "prefill");
    this.decodeSelector = selector(opts.decodePolicy ?? opts.policy, "decode");
    const roles = opts.roles;
    this.discovery = opts.redisUrl
      ? new WorkerDiscovery({
          redisUrl: opts.redisUrl,
          scanIntervalMs: opts.discoveryScanMs,
          filter: roles ? (r) => roles.includes(r.role) : undefined,
        })
      : null;
  }

  /** Freshest reported load of a worker from NATS (used by the pool's views), or null. */
  reportedLoad(address: string): { queued: number; kvBlocksFree: number } | null {
    const r = this.kv.loadOf(address);
    return r ? { queued: r.queued, kvBlocksFree: r.kvBlocksFree } : null;
  }

  /** Starts events and discovery and keeps `workers` in step with the cluster. */
  async start(workers: DynamicWorkerSet): Promise<void> {
    this.workers = workers;
    this.kv.start();
    for (const a of this.opts.workerUrls ?? []) this.kv.workerJoined(a);
    const d = this.discovery;
    if (!d) return;
    d.on("join", (r: WorkerRecord) => {
      workers.addWorker(r.grpcAddress);
      this.kv.workerJoined(r.workerId);
    });
    d.on("update", (r: WorkerRecord) => this.kv.workerJoined(r.workerId)); // restarted: resync
    d.on("leave", (id: string) => {
      // A static worker stays in the pool whatever Redis says (its health poll decides).
      if ((this.opts.workerUrls ?? []).includes(id)) return;
      workers.removeWorker(id);
      this.kv.workerLeft(id);
    });
    d.on("status", (up: boolean) => {
      if (!up) log.warn("Redis down: routing on the last known worker set");
    });
    await d.start();
  }

  /** Registers the routing metrics in the router's registry. */
  registerMetrics(registry: Registry): void {
    const d = this.discovery;
    this.metrics = new RoutingMetrics(registry, {
      indexStats: () => this.kv.indexStats(),
      eventsUp: this.opts.natsUrl ? () => this.kv.eventsUp : undefined,
      discoveryUp: d ? () => d.redisUp : undefined,
      workerHitRates: () =>
        (this.workers?.snapshot() ?? []).map((w) => ({
          worker: w.address,
          hitRate: w.load?.cacheHitRate ?? 0,
        })),
    });
  }

  async stop(): Promise<void> {
    await this.discovery?.stop();
    await this.kv.stop();
  }
}
