/**
 * The static set of workers behind the router (from `--worker-urls`), their health and load, and
 * the pick of the least loaded one.
 *
 * Algorithm: every `pollIntervalMs` (default 200 ms) each worker's GetLoad is called with a
 * deadline; a failed call marks the worker unhealthy until the next success. A call that only ran
 * past its deadline does not, while the worker showed life within `busyGraceMs` (default 5 s: a
 * poll answered, or a Generate event streamed): a worker flooded with requests is busy, not dead,
 * and stays in the pool (its queue already steers picks elsewhere). Health is asked every
 * `healthEveryPolls` polls (default 5): a DRAINING or STARTING worker takes nothing.
 * A pick scores healthy workers by `inFlight + queued` (inFlight is the router's own count of
 * requests it has dispatched and not yet seen finish, updated at once; queued comes from the last
 * GetLoad), ties broken by more free KV blocks, then by address for determinism.
 * Every pick returns a lease whose release() must run on every exit path (finish, error, abort);
 * release is idempotent so callers can release in a `finally` without double counting.
 *
 * With a `selector` (../policies: --policy), the pick is the policy's: the prompt is chain-hashed
 * with the model's block_hash_seed and the policy sees every healthy worker's load snapshot
 * (in-flight requests and prompt blocks, both moved at dispatch and at release, plus the worker's
 * queue). The worker set can change at run time (addWorker / removeWorker: Redis discovery).
 */
import { EventEmitter } from "node:events";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type {
  ClusterAuth,
  GetLoadResponse__Output,
  GetModelInfoResponse__Output,
  Result,
} from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import { type BreakerState, CircuitBreaker } from "../policies/circuit-breaker.js";
import type { WorkerView } from "../policies/policy.js";
import { promptHashes, type RouteSelector } from "../policies/route-selector.js";
import { AdmissionQueue } from "./admission-queue.js";
import { WorkerClient } from "./worker-client.js";

export interface WorkerPoolOptions {
  /** Load poll period. Range 20..10000 ms, default 200. */
  pollIntervalMs?: number;
  /** Deadline of one control call. Default 1000 ms. */
  rpcTimeoutMs?: number;
  /** Health is polled once per this many load polls. Default 5. */
  healthEveryPolls?: number;
  /** A poll that times out keeps a worker healthy while it showed life this recently. Default 5000 ms. */
  busyGraceMs?: number;
  /**
   * Requests the router may have dispatched and not finished, over all workers; past it new
   * requests get 429 queue_full. 0 = unlimited. Default 0.
   */
  maxPendingRequests?: number;
  /**
   * With maxPendingRequests > 0: how many more requests may wait (FIFO) for a slot instead of an
   * immediate 429 (SGLang router's --queue-size). 0 = no queue. Default 0.
   */
  queueSize?: number | undefined;
  /** Longest wait in that queue before a 429. Default 30000 ms. */
  queueTimeoutMs?: number | undefined;
  /** The routing policy; without it the pool picks the least loaded worker. */
  selector?: RouteSelector | undefined;
  /** The decode pick's policy when the model has prefill workers (PD); default: `selector`. */
  decodeSelector?: RouteSelector | undefined;
  /** The prefill pick's policy (PD). */
  prefillSelector?: RouteSelector | undefined;
  /** Allow an empty set at construction (workers arrive by discovery). Default false. */
  allowEmpty?: boolean;
  /** A fresher load report than the last poll (NATS LoadReport), if any. */
  reportedLoad?: ((address: string) => { queued: number; kvBlocksFree: number } | null) | undefined;
  /** How calls to workers authenticate: the cluster secret's token and/or mutual TLS. */
  clusterAuth?: ClusterAuth | undefined;
}

/** What the pick needs to know about the request for cache-aware routing. */
export interface PickRoute {
  /** Seeds random choices (the request id). */
  key: string;
  inputIds: readonly number[];
  /** Workers this request already failed on (gateway retries): never picked again for it. */
  exclude?: ReadonlySet<string> | undefined;
}

export interface WorkerSnapshot {
  address: string;
  healthy: boolean;
  status: string;
  inFlight: number;
  inFlightBlocks: number;
  load: GetLoadResponse__Output | null;
  model: GetModelInfoResponse__Output | null;
  lastError: string | null;
  /** Its last poll timed out, but it is alive (see busyGraceMs): healthy and slow. */
  busy: boolean;
  /** The worker's circuit breaker now (open: no picks until its cooldown passes). */
  breaker: BreakerState;
}

interface WorkerState {
  client: WorkerClient;
  healthy: boolean;
  status: string;
  inFlight: number;
  /** Prompt blocks of the in-flight requests (moves with inFlight). */
  inFlightBlocks: number;
  /** Opened by transport failures (markFailed); keeps a flapping worker out past its next good poll. */
  breaker: CircuitBreaker;
  /** Left the cluster: its client closes when its last in-flight request releases. */
  removed: boolean;
  load: GetLoadResponse__Output | null;
  model: GetModelInfoResponse__Output | null;
  lastError: string | null;
  /** Date.now() of the last poll it answered; 0 = never. */
  lastPollOkAt: number;
  busy: boolean;
}

/** A dispatched request's hold on a worker. */
export interface WorkerLease {
  readonly worker: WorkerClient;
  readonly model: GetModelInfoResponse__Output;
  release(): void;
}

export class WorkerPool extends EventEmitter {
  private workers: WorkerState[];
  private readonly selector: RouteSelector | undefined;
  private readonly admission: AdmissionQueue | null;
  private readonly decodeSelector: RouteSelector | undefined;
  private readonly reportedLoad: WorkerPoolOptions["reportedLoad"];
  private readonly pollIntervalMs: number;
  private readonly rpcTimeoutMs: number;
  private readonly healthEveryPolls: number;
  private readonly busyGraceMs: number;
  private readonly maxPending: number;
  private timer: NodeJS.Timeout | null = null;
  private polls = 0;
  private polling = false;
  private readonly clusterAuth: ClusterAuth | undefined;

  constructor(addresses: readonly string[], opts: WorkerPoolOptions = {}) {
    super();
    if (addresses.length === 0 && !opts.allowEmpty)
      throw new Error("the worker pool needs at least one worker address");
    this.selector = opts.selector;
    this.admission =
      (opts.queueSize ?? 0) > 0 && (opts.maxPendingRequests ?? 0) > 0
        ? new AdmissionQueue(opts.maxPendingRequests ?? 0, opts.queueSize ?? 0, opts.queueTimeoutMs ?? 30_000)
        : null;
    this.decodeSelector = opts.decodeSelector ?? opts.selector;
    this.prefillSelector = opts.prefillSelector;
    this.reportedLoad = opts.reportedLoad;
    this.clusterAuth = opts.clusterAuth;
    this.pollIntervalMs = Math.min(10_000, Math.max(20, opts.pollIntervalMs ?? 200));
    this.rpcTimeoutMs = opts.rpcTimeoutMs ?? 1000;
    this.healthEveryPolls = Math.max(1, opts.healthEveryPolls ?? 5);
    this.busyGraceMs = opts.busyGraceMs ?? 5000;
    this.maxPending = opts.maxPendingRequests ?? 0;
    this.workers = addresses.map((a) => newState(a, opts.clusterAuth));
  }

  /** Adds a worker (discovery join); it takes requests once its first poll succeeds. No-op if known. */
  addWorker(address: string): void {
    if (this.workers.some((w) => w.client.address === address)) return;
    const w = newState(address, this.clusterAuth);
    this.workers = [...this.workers, w];
    if (this.timer) void this.pollWorker(w, true);
  }

  /** Removes a worker (discovery leave): no new picks; leases already out still release safely. */
  removeWorker(address: string): boolean {
    const w = this.workers.find((x) => x.client.address === address);
    if (!w) return false;
    this.workers = this.workers.filter((x) => x !== w);
    w.healthy = false;
    w.removed = true;
    // A draining worker finishes what it runs: close its channel only after the last release.
    if (w.inFlight === 0) w.client.close();
    this.emit("health", address, false, "left the cluster");
    return true;
  }

  /** PD: the prefill pick's policy (disagg/prefill-picker.ts reads it). */
  readonly prefillSelector: RouteSelector | undefined;

  /**
   * Waits for an admission slot when a queue is configured (queueSize > 0): resolves with the
   * slot's release (call it exactly once, on every exit path), or queue_full / aborted. Without a
   * queue it admits at once and pick() alone enforces maxPendingRequests.
   */
  admit(signal?: AbortSignal): Promise<Result<() => void>> {
    return this.admission ? this.admission.acquire(signal) : Promise.resolve({ ok: true, value: () => {} });
  }

  /** Addresses of every worker in the pool, healthy or not. */
  addresses(): string[] {
    return this.workers.map((w) => w.client.address);
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
      w.lastPollOkAt = Date.now();
      w.busy = false;
      if (w.healthy) w.breaker.recordSuccess(Date.now()); // after the cooldown, a good poll closes it
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const late = err instanceof Error && "code" in err && err.code === GrpcStatus.DEADLINE_EXCEEDED;
      const lastLife = Math.max(w.lastPollOkAt, w.client.lastEventAt);
      if (late && w.healthy && Date.now() - lastLife < this.busyGraceMs) {
        w.busy = true; // slow, not gone: keep it (the next poll or its streams tell more)
      } else {
        w.healthy = false;
        w.busy = false;
        w.lastError = message;
      }
    }
    if (wasHealthy !== w.healthy) this.emit("health", w.client.address, w.healthy, w.lastError);
  }

  /** Marks a worker unhealthy at once (a Generate call failed with UNAVAILABLE); the poll heals it. */
  markFailed(worker: WorkerClient, reason: string): void {
    const w = this.workers.find((x) => x.client === worker);
    w?.breaker.recordFailure(Date.now());
    if (!w?.healthy) return;
    w.healthy = false;
    w.lastError = reason;
    this.emit("health", worker.address, false, reason);
  }

  /**
   * Picks a healthy worker serving `modelId` (any model when undefined): by the routing policy
   * when the pool has one and `route` is given, else the least loaded.
   */
  pick(modelId?: string, route?: PickRoute): Result<WorkerLease> {
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
    if (this.selector && route) {
      // PD: when the model has prefill workers, this is the decode pick (--decode-policy).
      const pd = this.workers.some(
        (w) => w.model?.disaggMode === "prefill" && (modelId === undefined || w.model.modelId === modelId),
      );
      return this.pickByPolicy(pd ? (this.decodeSelector ?? this.selector) : this.selector, modelId, route);
    }
    const now = Date.now();
    let best: WorkerState | null = null;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const w of this.workers) {
      if (!w.healthy || !w.model || !w.breaker.allows(now)) continue;
      if (w.model.disaggMode === "prefill") continue; // takes no Generate: paired by disagg/prefill-picker.ts
      if (route?.exclude?.has(w.client.address)) continue;
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
    return { ok: true, value: this.dispatch(best, best.model, 0) };
  }

  private pickByPolicy(
    selector: RouteSelector,
    modelId: string | undefined,
    route: PickRoute,
  ): Result<WorkerLease> {
    const now = Date.now();
    const candidates = this.workers.filter(
      (w) =>
        w.healthy &&
        w.model &&
        w.model.disaggMode !== "prefill" && // takes no Generate: paired by disagg/prefill-picker.ts
        w.breaker.allows(now) &&
        !route.exclude?.has(w.client.address) &&
        (modelId === undefined || w.model.modelId === modelId),
    );
    const first = candidates[0]?.model;
    if (!first) {
      const why = this.workers.map((w) => `${w.client.address}: ${w.lastError ?? w.status}`).join("; ");
      return {
        ok: false,
        error: new RadixServeError(
          "no_worker",
          `No healthy worker can take the request (${why || "no worker known"}).`,
        ),
      };
    }
    // Workers of one model share its block size and hash seed (the model's identity).
    const hashes = promptHashes(first, route.inputIds);
    const byId = new Map<string, WorkerState>();
    const views: WorkerView[] = candidates.map((w) => {
      byId.set(w.client.address, w);
      const reported = this.reportedLoad?.(w.client.address);
      return {
        id: w.client.address,
        inFlight: w.inFlight,
        inFlightBlocks: w.inFlightBlocks,
        queued: reported?.queued ?? w.load?.queuedRequests ?? 0,
        kvBlocksFree: reported?.kvBlocksFree ?? w.load?.kvBlocksFree ?? 0,
        kvBlocksTotal: w.load?.kvBlocksTotal ?? 0,
      };
    });
    const pick = selector.select({ key: route.key, hashes }, views);
    const chosen = byId.get(pick.worker.id)!;
    return { ok: true, value: this.dispatch(chosen, chosen.model!, hashes.length) };
  }

  /**
   * True when a healthy worker that could serve `modelId` (not a prefill worker, not in `exclude`)
   * is kept out of picks only by its open circuit breaker: a pick may succeed once it half-opens.
   */
  blockedByBreaker(modelId: string | undefined, exclude?: ReadonlySet<string>): boolean {
    const now = Date.now();
    return this.workers.some(
      (w) =>
        w.healthy &&
        w.model !== null &&
        w.model.disaggMode !== "prefill" &&
        (modelId === undefined || w.model.modelId === modelId) &&
        !exclude?.has(w.client.address) &&
        !w.breaker.allows(now),
    );
  }

  /** Moves the load counters now and returns the lease that moves them back exactly once. */
  private dispatch(chosen: WorkerState, model: GetModelInfoResponse__Output, blocks: number): WorkerLease {
    chosen.inFlight++;
    chosen.inFlightBlocks += blocks;
    let released = false;
    return {
      worker: chosen.client,
      model,
      release: () => {
        if (released) return;
        released = true;
        chosen.inFlight--;
        chosen.inFlightBlocks -= blocks;
        if (chosen.removed && chosen.inFlight === 0) chosen.client.close();
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

  /** The clients of the workers that are healthy now (fleet-wide calls such as flush_cache). */
  healthyClients(): WorkerClient[] {
    return this.workers.filter((w) => w.healthy).map((w) => w.client);
  }

  healthyCount(): number {
    return this.workers.filter((w) => w.healthy).length;
  }

  snapshot(): WorkerSnapshot[] {
    const now = Date.now();
    return this.workers.map((w) => ({
      address: w.client.address,
      healthy: w.healthy,
      status: w.status,
      inFlight: w.inFlight,
      inFlightBlocks: w.inFlightBlocks,
      load: w.load,
      model: w.model,
      lastError: w.lastError,
      busy: w.busy,
      breaker: w.breaker.state(now),
    }));
  }
}

function newState(address: string, auth: ClusterAuth | undefined): WorkerState {
  return {
    client: new WorkerClient(address, auth),
    healthy: false,
    status: "UNKNOWN",
    inFlight: 0,
    inFlightBlocks: 0,
    breaker: new CircuitBreaker(),
    removed: false,
    load: null,
    model: null,
    lastError: null,
    lastPollOkAt: 0,
    busy: false,
  };
}
