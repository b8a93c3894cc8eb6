/**
 * The data behind the router's live status page (GET /dashboard/state): every worker by role with
 * its health, load, KV usage, cache hit rate and recent throughput and transfer rate (from its
 * last load report), plus the router's own recent request rate and error ratio.
 *
 * A worker that left the pool (killed, deregistered) stays listed as "down" for GONE_KEEP_MS with
 * its last report, so an operator sees it fall over instead of a row silently vanishing.
 */
import { RateMeter } from "@radixserve/core";
import type { RouterMetrics } from "../gateway/router-metrics.js";
import type { WorkerPool, WorkerSnapshot } from "../workers/worker-pool.js";

/** How long a worker that left the pool stays on the page (as down). */
export const GONE_KEEP_MS = 10 * 60_000;

export type WorkerHealth = "up" | "down" | "draining" | "starting" | "breaker_open";

export interface WorkerStatus {
  address: string;
  /** prefill | decode | unified | unknown (no model report yet). */
  role: string;
  health: WorkerHealth;
  /** Why it is not up (last poll error, "left the cluster"), null when up. */
  detail: string | null;
  inFlight: number;
  running: number;
  queued: number;
  kvBlocksTotal: number;
  /** Used / total, 0..1 (free counts evictable cached blocks as free). */
  kvUsage: number;
  cacheHitRate: number;
  generationTokensPerS: number;
  promptTokensPerS: number;
  kvTransferBytesPerS: number;
  /** ms since the worker left the pool; null while in it. */
  goneForMs: number | null;
}

export interface StatusState {
  model: string | null;
  routerUptimeS: number;
  requestsPerS: number;
  /** Errors / answers of the generation endpoints over the recent window (0 when idle). */
  errorRatio: number;
  generationTokensPerS: number;
  kvTransferBytesPerS: number;
  workersUp: number;
  workers: WorkerStatus[];
}

function healthOf(w: WorkerSnapshot): WorkerHealth {
  if (!w.healthy) return w.status === "STATUS_STARTING" ? "starting" : "down";
  if (w.status === "STATUS_DRAINING") return "draining";
  if (w.breaker === "open") return "breaker_open";
  return "up";
}

function statusOf(w: WorkerSnapshot, goneForMs: number | null): WorkerStatus {
  const load = w.load;
  const total = load?.kvBlocksTotal ?? 0;
  const gone = goneForMs !== null;
  const health = gone ? "down" : healthOf(w);
  return {
    address: w.address,
    role: w.model?.disaggMode || "unknown",
    health,
    detail: gone ? "left the cluster" : health === "up" ? null : w.lastError,
    inFlight: gone ? 0 : w.inFlight,
    running: load?.runningRequests ?? 0,
    queued: load?.queuedRequests ?? 0,
    kvBlocksTotal: total,
    kvUsage: total > 0 ? (total - (load?.kvBlocksFree ?? total)) / total : 0,
    cacheHitRate: load?.cacheHitRate ?? 0,
    // A worker that is down moves nothing, whatever its last report said.
    generationTokensPerS: health === "down" ? 0 : (load?.generationTokensPerS ?? 0),
    promptTokensPerS: health === "down" ? 0 : (load?.promptTokensPerS ?? 0),
    kvTransferBytesPerS: health === "down" ? 0 : (load?.kvTransferBytesPerS ?? 0),
    goneForMs,
  };
}

export class StatusBoard {
  private readonly gone = new Map<string, { last: WorkerSnapshot; since: number }>();
  private readonly seen = new Map<string, WorkerSnapshot>();
  private readonly answers = new RateMeter();
  private readonly errors = new RateMeter();
  private readonly started = Date.now();

  constructor(
    private readonly pool: WorkerPool,
    private readonly metrics: RouterMetrics,
  ) {}

  state(now = Date.now()): StatusState {
    const current = this.pool.snapshot();
    const present = new Set(current.map((w) => w.address));
    for (const [address, last] of this.seen)
      if (!present.has(address) && !this.gone.has(address)) this.gone.set(address, { last, since: now });
    for (const w of current) {
      this.seen.set(w.address, w);
      this.gone.delete(w.address);
    }
    for (const [address, g] of this.gone) {
      if (now - g.since > GONE_KEEP_MS) {
        this.gone.delete(address);
        this.seen.delete(address);
      }
    }
    const workers = [
      ...current.map((w) => statusOf(w, null)),
      ...[...this.gone.values()].map((g) => statusOf(g.last, now - g.since)),
    ].sort((a, b) => a.role.localeCompare(b.role) || a.address.localeCompare(b.address));
    const t = performance.now();
    const answersPerS = this.answers.rate(this.metrics.answers.total, t);
    const errorsPerS = this.errors.rate(this.metrics.answers.errors, t);
    const sum = (f: (w: WorkerStatus) => number, roles: string[]) =>
      workers.filter((w) => roles.includes(w.role)).reduce((a, w) => a + f(w), 0);
    return {
      model: this.pool.models()[0]?.modelId ?? null,
      routerUptimeS: Math.round((now - this.started) / 1000),
      requestsPerS: answersPerS,
      errorRatio: answersPerS > 0 ? Math.min(1, errorsPerS / answersPerS) : 0,
      generationTokensPerS: sum((w) => w.generationTokensPerS, ["decode", "unified"]),
      kvTransferBytesPerS: sum((w) => w.kvTransferBytesPerS, ["decode"]),
      workersUp: workers.filter((w) => w.health === "up").length,
      workers,
    };
  }
}
