/**
 * The static set of workers behind the router (from `--worker-urls`), their health and load, and
 * the pick of the least loaded one.
 *
 * Algorithm: every `pollIntervalMs` (default 200 ms) each worker's GetLoad is called with a
 * deadline; a failed or late call marks the worker unhealthy until the next success. Health is
 * asked every `healthEveryPolls` polls (default 5): a DRAINING or STARTING worker takes nothing.
 * A pick scores healthy workers by `inFlight + queued` (inFlight is the router's own count of
 * requests it has dispatched and not yet seen finish, updated at once; queued comes from the last
 * GetLoad), ties broken by more free KV blocks, then by address for determinism.
 * Every pick returns a lease whose release() must run on every exit path (finish, error, abort);
 * release is idempotent so callers can release in a `finally` without double counting.
 */
import { EventEmitter } from "node:events";
import type { GetLoadResponse__Output, GetModelInfoResponse__Output, Result } from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import { WorkerClient } from "./worker-client.js";

export interface WorkerPoolOptions {
  /** Load poll period. Range 20..10000 ms, default 200. */
  pollIntervalMs?: number;
  /** Deadline of one control call. Default 1000 ms. */
  rpcTimeoutMs?: number;
  /** Health is polled once per this many load polls. Default 5. */
  healthEveryPolls?: number;
  /**
   * Requests the router may have dispatched and not finished, over all workers; past it new
   * requests get 429 queue_full. 0 = unlimited. Default 0.
   */
  maxPendingRequests?: number;
}

export interface WorkerSnapshot {
  address: string;
  healthy: boolean;
  status: string;
  inFlight: number;
  load: GetLoadResponse__Output | null;
  model: GetModelInfoResponse__Output | null;
  lastError: string | null;
}

interface WorkerState {
  client: WorkerClient;
  healthy: boolean;
  status: string;
  inFlight: number;
  load: GetLoadResponse__Output | null;
  model: GetModelInfoResponse__Output | null;
  lastError: string | null;
}

/** A dispatched request's hold on a worker. */
export interface WorkerLease {
  readonly worker: WorkerClient;
  readonly model: GetModelInfoResponse__Output;
  release(): void;
}

export class WorkerPool extends EventEmitter {
  private readonly workers: WorkerState[];
  private readonly pollIntervalMs: number;
  private readonly rpcTimeoutMs: number;
  private readonly healthEveryPolls: number;
  private readonly maxPending: number;
  private timer: NodeJS.Timeout | null = null;
  private polls = 0;
  private polling = false;

  constructor(addresses: readonly string[], opts: WorkerPoolOptions = {}) {
    super();
    if (addresses.length === 0) throw new Error("the worker pool needs at least one worker address");
    this.pollIntervalMs = Math.min(10_000, Math.max(20, opts.pollIntervalMs ?? 200));
    this.rpcTimeoutMs = opts.rpcTimeoutMs ?? 1000;
    this.healthEveryPolls = Math.max(1, opts.healthEveryPolls ?? 5);
    this.maxPending = opts.maxPendingRequests ?? 0;
    this.workers = addresses.map((a) => ({
      client: new WorkerClient(a),
      healthy: false,
      status: "UNKNOWN",
      inFlight: 0,
      load: null,
      model: null,
      lastError: null,
    }));
  }

  /** Polls once (so the first request finds known workers) and starts the periodic poll. */
  async start(): Promise<void> {
    await this.pollOnce(true);
    this.timer = setInterval(() => void this.pollOnce(false), this.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.workers) w.client.close();
  }

  /** Polls until at least one worker is healthy, or throws after `timeoutMs`. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.workers.some((w) => w.healthy)) {
      if (Date.now() > until) {
        const why = this.workers.map((w) => `${w.client.address}: ${w.lastError ?? w.status}`).join("; ");
        throw new Error(`no healthy worker after ${timeoutMs} ms (${why})`);
      }
      await new Promise((r) => setTimeout(r, 100));
      await this.pollOnce(true);
    }
  }

  private async pollOnce(withHealth: boolean): Promise<void> {
    if (this.polling) return; // a slow worker must not pile up overlapping polls
    this.polling = true;
    try {
      const health = withHealth || this.polls % this.healthEveryPolls === 0;
      this.polls++;
      await Promise.all(this.workers.map((w) => this.pollWorker(w, health)));
    } finally {
      this.polling = false;
    }
  }

  private async pollWorker(w: WorkerState, withHealth: boolean): Promise<void> {
    const wasHealthy = w.healthy;
    try {
      if (withHealth || w.status !== "STATUS_SERVING") {
        const h = await w.client.health(this.rpcTimeoutMs);
        w.status = h.status;
      }
      if (!w.model) w.model = await w.client.modelInfo(this.rpcTimeoutMs);
      w.load = await w.client.getLoad(this.rpcTimeoutMs);
      w.healthy = w.status === "STATUS_SERVING";
      w.lastError = w.healthy ? null : `status ${w.status}`;
    } catch (err) {
      w.healthy = false;
      w.lastError = err instanceof Error ? err.message : String(err);
    }
    if (wasHealthy !== w.healthy) this.emit("health", w.client.address, w.healthy, w.lastError);
  }

  /** Marks a worker unhealthy at once (a Generate call failed with UNAVAILABLE); the poll heals it. */
  markFailed(worker: WorkerClient, reason: string): void {
    const w = this.workers.find((x) => x.client === worker);
    if (!w?.healthy) return;
    w.healthy = false;
    w.lastError = reason;
    this.emit("health", worker.address, false, reason);
  }

  /** Picks the least loaded healthy worker serving `modelId` (any model when undefined). */
  pick(modelId?: string): Result<WorkerLease> {
    const pending = this.workers.reduce((s, w) => s + w.inFlight, 0);
    if (this.maxPending > 0 && pending >= this.maxPending) {
      return {
        ok: false,
        error: new RadixServeError(
          "queue_full",
          `The server is at capacity (${pending} requests pending, limit ${this.maxPending}); retry later.`,
        ),
      };
    }
    let best: WorkerState | null = null;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const w of this.workers) {
      if (!w.healthy || !w.model) continue;
      if (w.model.disaggMode === "prefill") continue; // takes no Generate: paired by disagg/prefill-picker.ts
      if (modelId !== undefined && w.model.modelId !== modelId) continue;
      const score = w.inFlight + (w.load?.queuedRequests ?? 0);
      if (
        best === null ||
        score < bestScore ||
        (score === bestScore && (w.load?.kvBlocksFree ?? 0) > (best.load?.kvBlocksFree ?? 0))
      ) {
        best = w;
        bestScore = score;
      }
    }
    if (!best?.model) {
      const why = this.workers.map((w) => `${w.client.address}: ${w.lastError ?? w.status}`).join("; ");
      return {
        ok: false,
        error: new RadixServeError("no_worker", `No healthy worker can take the request (${why}).`),
      };
    }
    const chosen = best;
    const model = best.model;
    chosen.inFlight++;
    let released = false;
    return {
      ok: true,
      value: {
        worker: chosen.client,
        model,
        release: () => {
          if (released) return;
          released = true;
          chosen.inFlight--;
        },
      },
    };
  }

  /** Distinct models served by the workers that answered GetModelInfo, healthy or not. */
  models(): GetModelInfoResponse__Output[] {
    const seen = new Map<string, GetModelInfoResponse__Output>();
    for (const w of this.workers)
      if (w.model && !seen.has(w.model.modelId)) seen.set(w.model.modelId, w.model);
    return [...seen.values()];
  }

  healthyCount(): number {
    return this.workers.filter((w) => w.healthy).length;
  }

  snapshot(): WorkerSnapshot[] {
    return this.workers.map((w) => ({
      address: w.client.address,
      healthy: w.healthy,
      status: w.status,
      inFlight: w.inFlight,
      load: w.load,
      model: w.model,
      lastError: w.lastError,
    }));
  }
}
