/**
 * The router's KV-event plumbing in one object: a NatsLink (optional: without --nats-url the router
 * routes on approximate insertions only), a KvEventSubscriber feeding the KvEventFollower that keeps
 * the KvIndex, the latest LoadReport of each worker, and a periodic tick (approximate-entry expiry,
 * failed-resync retries). The worker set is the caller's: it calls workerJoined / workerLeft.
 */

import { KvEventSubscriber, type LoadReport, NatsLink } from "@radixserve/cluster";
import { getLogger } from "@radixserve/core";
import { KvEventFollower, type ResyncReason } from "./kv-event-follower.js";
import { KvIndex } from "./kv-index.js";

const log = getLogger("kv-index");

export interface KvSyncOptions {
  /** NATS servers ("host:port[,host:port]"); undefined = no events (approximate index only). */
  natsUrl?: string | undefined;
  subjectPrefix?: string | undefined;
  /** Snapshot request deadline. Default 2000 ms. */
  snapshotTimeoutMs?: number;
  /** Upkeep period. Default 500 ms. */
  tickMs?: number;
  /** Approximate entries per worker. Default 65536. */
  approxCapacity?: number;
  onResync?: (workerId: string, reason: ResyncReason) => void;
}

export class KvSync {
  readonly index: KvIndex;
  readonly follower: KvEventFollower;
  private readonly link: NatsLink | null;
  private readonly subscriber: KvEventSubscriber | null;
  private readonly loads = new Map<string, { report: LoadReport; at: number }>();
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;

  constructor(opts: KvSyncOptions) {
    this.index = new KvIndex({ approxCapacity: opts.approxCapacity });
    this.link = opts.natsUrl ? new NatsLink({ servers: opts.natsUrl, name: "radixserve-router" }) : null;
    const link = this.link;
    this.subscriber = link
      ? new KvEventSubscriber({
          link,
          subjectPrefix: opts.subjectPrefix,
          onBatch: (b) => this.follower.applyBatch(b),
          onLoad: (r) => this.loads.set(r.workerId, { report: r, at: Date.now() }),
        })
      : null;
    const sub = this.subscriber;
    const timeout = opts.snapshotTimeoutMs ?? 2000;
    this.follower = new KvEventFollower({
      index: this.index,
      requestSnapshot: (id) =>
        sub ? sub.requestSnapshot(id, timeout) : Promise.resolve({ ok: false, reason: "no NATS configured" }),
      onResync: (id, reason) => {
        log.debug({ worker: id, reason }, "KV index resync");
        opts.onResync?.(id, reason);
      },
    });
    this.tickMs = opts.tickMs ?? 500;
  }

  /** True while KV events can flow (NATS connected). */
  get eventsUp(): boolean {
    return this.link?.connected ?? false;
  }

  start(): void {
    if (this.link && this.subscriber) {
      this.link.on("status", (up: boolean) => this.follower.setEventsUp(up));
      this.subscriber.start();
      this.link.start();
    }
    this.timer = setInterval(() => this.follower.tick(), this.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.link?.stop();
  }

  workerJoined(workerId: string): void {
    this.follower.workerJoined(workerId);
  }

  workerLeft(workerId: string): void {
    this.follower.workerLeft(workerId);
    this.loads.delete(workerId);
  }

  /** The worker's last load report if it is younger than `maxAgeMs`. */
  loadOf(workerId: string, maxAgeMs = 2000): LoadReport | null {
    const l = this.loads.get(workerId);
    return l && Date.now() - l.at <= maxAgeMs ? l.report : null;
  }

  /** Per-worker index sizes (the kv_index_blocks metric). */
  indexStats(): { worker: string; exact: number; approx: number }[] {
    return this.index.workerIds().map((w) => {
      const s = this.index.workerStats(w);
      return { worker: w, exact: s.exactBlocks, approx: s.approxBlocks };
    });
  }
}
