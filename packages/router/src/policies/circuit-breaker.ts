/**
 * Per-worker circuit breaker: keeps traffic off a worker whose requests fail with transport errors
 * (UNAVAILABLE, deadline) even while it still answers its health polls, which is how a flapping
 * worker looks. Candidates are filtered through it before any policy picks.
 *
 * States: closed (normal) -> open after `failureThreshold` consecutive failures, for a cooldown
 * that starts at `baseCooldownMs` and doubles with each re-open up to `maxCooldownMs` -> half-open
 * when the cooldown has passed (the worker is eligible again) -> closed on the next success, or
 * open again (longer cooldown) on the next failure. A success in the closed state resets the count.
 *
 * Knobs (defaults): failureThreshold 1..100 (1: the first transport failure opens it, as the pool
 * already treats one UNAVAILABLE as fatal), baseCooldownMs 100..60000 (500), maxCooldownMs (30000).
 */
export interface CircuitBreakerOptions {
  failureThreshold?: number;
  baseCooldownMs?: number;
  maxCooldownMs?: number;
}

export type BreakerState = "closed" | "open" | "half_open";

export class CircuitBreaker {
  private failures = 0;
  private opens = 0;
  private openUntil = 0;
  private readonly threshold: number;
  private readonly base: number;
  private readonly max: number;

  constructor(opts: CircuitBreakerOptions = {}) {
    this.threshold = opts.failureThreshold ?? 1;
    this.base = opts.baseCooldownMs ?? 500;
    this.max = opts.maxCooldownMs ?? 30_000;
    if (!(Number.isInteger(this.threshold) && this.threshold >= 1 && this.threshold <= 100))
      throw new Error(`failureThreshold must be an integer in [1, 100], got ${opts.failureThreshold}`);
    if (!(this.base >= 100 && this.base <= 60_000 && this.max >= this.base))
      throw new Error(`cooldowns must satisfy 100 <= base <= 60000 and max >= base`);
  }

  state(nowMs: number): BreakerState {
    if (this.opens === 0 || this.failures < this.threshold) return "closed";
    return nowMs < this.openUntil ? "open" : "half_open";
  }

  /** May a request go to this worker now? (closed or half-open) */
  allows(nowMs: number): boolean {
    return this.state(nowMs) !== "open";
  }

  recordFailure(nowMs: number): void {
    this.failures++;
    if (this.failures < this.threshold) return;
    const cooldown = Math.min(this.max, this.base * 2 ** this.opens);
    this.opens++;
    this.openUntil = nowMs + cooldown;
  }

  /** A request (or, after the cooldown, a probe) succeeded: back to closed. */
  recordSuccess(nowMs: number): void {
    if (this.state(nowMs) === "open") return; // a success during the cooldown proves nothing yet
    this.failures = 0;
    this.opens = 0;
    this.openUntil = 0;
  }
}
