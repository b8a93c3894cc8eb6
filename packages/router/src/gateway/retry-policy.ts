/**
 * Bounded retries with exponential backoff for a choice whose worker failed before its first
 * token. Which failures are retried, and how long to wait before each retry.
 *
 * Retryable (the request never reached a model, or the KV it needed never arrived), each counted
 * in radixserve_router_retries_total{reason}:
 *   unavailable         the worker's gRPC call failed (connection refused, reset, cut stream,
 *                       UNAVAILABLE): the worker is marked failed and the retry goes elsewhere
 *   draining            the worker answered `draining` (SIGTERM): the retry goes elsewhere
 *   circuit_open        the pick found no worker only because circuit breakers are open (a worker
 *                       may half-open during the backoff)
 *   kv_transfer_failed  PD: the decode worker lost the prefill worker's KV: another prefill worker
 * Never retried: anything the client caused (invalid_request, prompt_too_long, ...), queue_full
 * (429: the client backs off), internal errors, and any failure after a token was streamed.
 *
 * Knobs (defaults): maxRetries 0..10 (2, --max-retries), baseBackoffMs 1..10000 (20; doubles per
 * retry), maxBackoffMs (1000, caps the doubling), jitter 0..1 (0.5: each wait is drawn uniformly
 * in [d·(1−jitter), d] so retries of a burst do not land on the next worker in lockstep).
 */
import type { RadixServeError } from "@radixserve/core";

/** Every retry reason (the `reason` label of radixserve_router_retries_total). */
export const RETRY_REASONS = Object.freeze([
  "unavailable",
  "draining",
  "circuit_open",
  "kv_transfer_failed",
] as const);

export type RetryReason = (typeof RETRY_REASONS)[number];

export interface RetryOptions {
  maxRetries: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  jitter: number;
  /** Uniform [0, 1) draws for the jitter (tests pass a fixed one). Default Math.random. */
  random?: () => number;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = Object.freeze({
  maxRetries: 2,
  baseBackoffMs: 20,
  maxBackoffMs: 1000,
  jitter: 0.5,
});

/** Validates and fills in the knobs; throws a clear Error on an out-of-range value. */
export function retryOptions(partial: Partial<RetryOptions> = {}): RetryOptions {
  const o = { ...DEFAULT_RETRY, ...partial };
  if (!(Number.isInteger(o.maxRetries) && o.maxRetries >= 0 && o.maxRetries <= 10))
    throw new Error(`maxRetries must be an integer in [0, 10], got ${o.maxRetries}`);
  if (!(o.baseBackoffMs >= 1 && o.baseBackoffMs <= 10_000))
    throw new Error(`baseBackoffMs must be in [1, 10000], got ${o.baseBackoffMs}`);
  if (!(o.maxBackoffMs >= o.baseBackoffMs))
    throw new Error(`maxBackoffMs must be >= baseBackoffMs, got ${o.maxBackoffMs}`);
  if (!(o.jitter >= 0 && o.jitter <= 1)) throw new Error(`jitter must be in [0, 1], got ${o.jitter}`);
  return o;
}

/** The wait before retry number `retry` (1-based): base·2^(retry−1), capped, minus jitter. */
export function backoffMs(o: RetryOptions, retry: number): number {
  const d = Math.min(o.maxBackoffMs, o.baseBackoffMs * 2 ** Math.max(0, retry - 1));
  return d * (1 - o.jitter * (o.random ?? Math.random)());
}

/** Why a worker-side failure may be retried on another worker, or null when it must not be. */
export function retryReasonOf(err: RadixServeError): RetryReason | null {
  switch (err.code) {
    case "no_worker":
      return "unavailable";
    case "draining":
      return "draining";
    case "kv_transfer_failed":
      return "kv_transfer_failed";
    default:
      return null;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks signal.aborted). */
export function sleepAbortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
