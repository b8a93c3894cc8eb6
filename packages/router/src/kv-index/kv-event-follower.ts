/**
 * Keeps the router's KvIndex in step with each worker's KV events (cluster/src/events), and decides
 * how far to trust it.
 *
 * Per worker it remembers the worker's instanceId and the last eventId applied. A batch that is
 * the next one is applied at once. A gap (eventId > last + 1), a new instance (the worker
 * restarted), a worker that just joined, or events resuming after NATS was down all trigger a
 * resync: the follower asks the worker for a snapshot (NATS request/reply), replaces the worker's
 * entries with it, then applies the batches that arrived meanwhile and are newer than the
 * snapshot. Old or duplicate batches are ignored. A failed snapshot is retried on the next tick.
 *
 * Approximate insertion: every routing decision is recorded with routed(). For a worker in sync
 * that entry lives `syncedApproxTtlMs` (default 10 s: long enough for the worker's stored event to
 * confirm it); for a worker without events (NATS absent, resync pending) it lives until the index's
 * per-worker capacity pushes it out, so routing stays cache-aware on what the router itself did.
 */

import type { KvEventBatch, KvSnapshot } from "@radixserve/cluster";
import type { BlockHash } from "@radixserve/core";
import type { KvIndex } from "./kv-index.js";

type SnapshotResult = { ok: true; value: KvSnapshot } | { ok: false; reason: string };

export interface KvEventFollowerOptions {
  index: KvIndex;
  /** Asks a worker for its snapshot (KvEventSubscriber.requestSnapshot bound with a timeout). */
  requestSnapshot: (workerId: string) => Promise<SnapshotResult>;
  /** TTL of an approximate entry on a worker whose events are flowing. Default 10000 ms. */
  syncedApproxTtlMs?: number;
  /** Called on each resync start, for logs and metrics. */
  onResync?: (workerId: string, reason: ResyncReason) => void;
  now?: () => number;
}

/** Every resync cause (the `reason` label of radixserve_router_kv_resyncs_total). */
export const RESYNC_REASONS = Object.freeze([
  "gap",
  "new_instance",
  "joined",
  "events_resumed",
  "retry",
] as const);

export type ResyncReason = (typeof RESYNC_REASONS)[number];

interface WorkerSync {
  instanceId: string | null;
  lastEventId: number;
  synced: boolean;
  resyncing: boolean;
  buffer: KvEventBatch[];
}

export interface FollowerStats {
  batchesApplied: number;
  batchesIgnored: number;
  gaps: number;
  resyncs: number;
  resyncFailures: number;
}

export class KvEventFollower {
  private readonly workers = new Map<string, WorkerSync>();
  private readonly now: () => number;
  private readonly ttl: number;
  private eventsUp = false;
  readonly stats: FollowerStats = {
    batchesApplied: 0,
    batchesIgnored: 0,
    gaps: 0,
    resyncs: 0,
    resyncFailures: 0,
  };

  constructor(private readonly opts: KvEventFollowerOptions) {
    this.now = opts.now ?? Date.now;
    this.ttl = opts.syncedApproxTtlMs ?? 10_000;
  }

  /** True when the worker's index entries follow its events (not approximate only). */
  isSynced(workerId: string): boolean {
    return this.workers.get(workerId)?.synced ?? false;
  }

  /** A worker joined the set: start following it (resync if events are up). */
  workerJoined(workerId: string): void {
    this.state(workerId);
    if (this.eventsUp) this.resync(workerId, "joined");
  }

  /** A worker left: forget it and its entries. */
  workerLeft(workerId: string): void {
    this.workers.delete(workerId);
    this.opts.index.removeWorker(workerId);
  }

  /** The event stream went up or down (NatsLink "status"). Down: every worker falls back to approximate. */
  setEventsUp(up: boolean): void {
    if (this.eventsUp === up) return;
    this.eventsUp = up;
    for (const [id, st] of this.workers) {
      if (!up) {
        st.synced = false;
        st.instanceId = null;
      } else this.resync(id, "events_resumed");
    }
  }

  /** Records a routing decision (approximate insertion). */
  routed(workerId: string, hashes: readonly BlockHash[]): void {
    if (hashes.length === 0) return;
    const synced = this.isSynced(workerId);
    this.opts.index.insertApproximate(
      workerId,
      hashes,
      this.now(),
      synced ? this.ttl : Number.POSITIVE_INFINITY,
    );
  }

  /** Periodic upkeep: expire approximate entries, retry failed resyncs. */
  tick(): void {
    this.opts.index.pruneExpired(this.now());
    if (!this.eventsUp) return;
    for (const [id, st] of this.workers) if (!st.synced && !st.resyncing) this.resync(id, "retry");
  }

  /** One KV event batch from NATS. */
  applyBatch(b: KvEventBatch): void {
    const st = this.state(b.workerId);
    if (st.resyncing) {
      st.buffer.push(b);
      return;
    }
    if (st.instanceId === b.instanceId) {
      if (b.eventId <= st.lastEventId) {
        this.stats.batchesIgnored++;
        return;
      }
      if (b.eventId === st.lastEventId + 1) {
        this.apply(b);
        st.lastEventId = b.eventId;
        return;
      }
      this.stats.gaps++;
    }
    st.buffer.push(b);
    this.resync(
      b.workerId,
      st.instanceId === null || st.instanceId === b.instanceId ? "gap" : "new_instance",
    );
  }

  private apply(b: KvEventBatch): void {
    const index = this.opts.index;
    for (const e of b.events) {
      if (e.type === "stored") index.applyStored(b.workerId, e.blocks);
      else if (e.type === "removed") index.applyRemoved(b.workerId, e.hashes);
      else index.removeWorker(b.workerId);
    }
    this.stats.batchesApplied++;
  }

  private state(workerId: string): WorkerSync {
    let st = this.workers.get(workerId);
    if (!st) {
      st = { instanceId: null, lastEventId: 0, synced: false, resyncing: false, buffer: [] };
      this.workers.set(workerId, st);
    }
    return st;
  }

  private resync(workerId: string, reason: ResyncReason): void {
    const st = this.state(workerId);
    if (st.resyncing) return;
    st.resyncing = true;
    this.stats.resyncs++;
    this.opts.onResync?.(workerId, reason);
    void this.opts.requestSnapshot(workerId).then((snap) => {
      if (this.workers.get(workerId) !== st) return; // the worker left meanwhile
      st.resyncing = false;
      const buffered = st.buffer.sort((a, b) => a.eventId - b.eventId);
      st.buffer = [];
      if (!snap.ok) {
        this.stats.resyncFailures++;
        st.synced = false;
        return; // tick() retries
      }
      this.opts.index.replaceWorker(workerId, snap.value.blocks);
      st.instanceId = snap.value.instanceId;
      st.lastEventId = snap.value.eventId;
      st.synced = true;
      for (const b of buffered) this.applyBatch(b);
    });
  }
}
