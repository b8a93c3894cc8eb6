/**
 * Runs one choice of one request on a worker: picks the least loaded worker, streams Generate,
 * turns token ids into text (incremental detokenizer + stop-string matcher) and yields deltas,
 * then one `end` event with the finish reason and usage.
 *
 * Contract with the worker (protos/radixserve/worker/v1/worker.proto): the stream is token events
 * then exactly one `finished` or `error`. Stop tokens (EOS unless ignore_eos, and stop_token_ids)
 * end generation on the worker; the gateway never renders them as text (OpenAI excludes them).
 * A stop *string* is found here: the gateway then asks the worker to Abort and reads on until the
 * worker's `finished`, so usage (cached tokens included) still comes from the worker.
 *
 * Every exit path (finish, worker error, client gone, consumer stopped iterating) releases the
 * worker lease exactly once and cancels the gRPC call, which aborts the request on the worker.
 *
 * A failure that ./retry-policy.ts calls retryable (worker unavailable, draining, circuit open,
 * PD KV transfer lost) is retried on another worker, at most `retry.maxRetries` times with
 * exponential backoff, as long as nothing of the choice can have reached the client: before its
 * first token, or at any point when the spec is `restartable` (a non-streaming response, sent
 * only at the end). A restart after tokens yields a `reset` event first: the consumer drops what
 * it collected, and the choice runs again from its prompt. Each attempt holds its own leases and
 * releases them before the backoff starts.
 */
import { randomUUID } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import {
  type GenerateResponse__Output,
  getTracer,
  RadixServeError,
  type SamplingParams,
  type Span,
  traceMetadata,
} from "@radixserve/core";
import { leasePair } from "../disagg/prefill-picker.js";
import type { PickRoute, WorkerLease, WorkerPool } from "../workers/worker-pool.js";
import {
  backoffMs,
  DEFAULT_RETRY,
  type RetryOptions,
  type RetryReason,
  retryReasonOf,
  sleepAbortable,
} from "./retry-policy.js";
import type { TextCodec } from "./text-codec.js";

export type FinishReason = "stop" | "length" | "abort";

export interface UsageCounts {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

export interface TopToken {
  id: number;
  text: string;
  /** The token's exact bytes (OpenAI's `bytes`). */
  bytes: number[];
  logprob: number;
}

/** One generated token as reported to the client (only built when logprobs were asked). */
export interface TokenInfo {
  id: number;
  text: string;
  bytes: number[];
  logprob: number;
  top: TopToken[];
}

/** A prompt token's log-probability given the tokens before it (null for the first token). */
export interface PromptTokenInfo {
  id: number;
  logprob: number | null;
  top: TopToken[];
}

export type ChoiceEvent =
  /** `ids`: the generated token ids this delta completes (stop tokens are never among them). */
  | { kind: "delta"; text: string; tokens: TokenInfo[]; ids: number[] }
  /** Only for a restartable spec: forget every delta so far, the choice starts over elsewhere. */
  | { kind: "reset" }
  | {
      kind: "end";
      finishReason: FinishReason;
      usage: UsageCounts;
      /** When the spec asked: prompt tokens promptLogprobs.start .. end. */
      promptLogprobs?: PromptTokenInfo[];
    };

export interface ChoiceSpec {
  modelId: string;
  inputIds: number[];
  maxNewTokens: number;
  /** Sampling as sent to the worker, without maxNewTokens/stop ids/logprobs (filled here). */
  sampling: Omit<SamplingParams, "maxNewTokens" | "stopTokenIds" | "ignoreEos" | "logprobs" | "hasLogprobs">;
  stops: readonly string[];
  stopTokenIds: readonly number[];
  ignoreEos: boolean;
  /** Top alternatives per token for logprobs; null = no logprobs. */
  logprobs: number | null;
  /** Logprobs of the prompt's tokens from `start` on, `top` alternatives each; absent = none. */
  promptLogprobs?: { start: number; top: number };
  /** Wall-clock deadline (ms since the epoch) the worker aborts at; 0 or absent = none. */
  deadlineUnixMs?: number;
  /**
   * Nothing of this choice reaches the client before it ends (a non-streaming response): a
   * retryable failure after tokens restarts it on another worker (after a `reset` event).
   */
  restartable?: boolean;
}

export interface ChoiceDeps {
  pool: WorkerPool;
  codec: TextCodec;
  /** Called when the first token of this choice arrives (TTFT metric). */
  onFirstToken?: () => void;
  /** Called for every later token (inter-token latency metric). */
  onToken?: () => void;
  /** Retries before the first token (./retry-policy.ts). Default DEFAULT_RETRY. */
  retry?: RetryOptions | undefined;
  /** Called once per retry, before its backoff (radixserve_router_retries_total). */
  onRetry?: ((reason: RetryReason, backoffMs: number) => void) | undefined;
  /** The backoff's sleep (tests record the waits). Default: an abortable timer. */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  /** The request's span: this choice's admission, route and generate spans are its children. */
  trace?: Span | undefined;
}

/** Past the deadline, how long the router waits for the worker's own abort before cancelling. */
const DEADLINE_GRACE_MS = 2000;
/** How long to wait for the worker's `finished` after asking it to abort for a stop string. */
const ABORT_GRACE_MS = 2000;
const ABORT_RPC_TIMEOUT_MS = 1000;

function finishReasonOf(reason: string): FinishReason {
  if (reason === "FINISH_REASON_LENGTH") return "length";
  if (reason === "FINISH_REASON_ABORT") return "abort";
  return "stop";
}

function isGrpcError(err: unknown): err is Error & { code: number; details?: string } {
  return err instanceof Error && "code" in err && typeof err.code === "number";
}

function workerFailure(err: unknown, address: string): RadixServeError {
  if (err instanceof RadixServeError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (isGrpcError(err) && err.code === GrpcStatus.RESOURCE_EXHAUSTED)
    return new RadixServeError("queue_full", `Worker ${address} is at capacity: ${detail}`, { cause: err });
  // CANCELLED here was not ours (those are handled by the caller): the worker dropped the call.
  const gone = [GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.CANCELLED];
  if (isGrpcError(err) && gone.includes(err.code))
    return new RadixServeError("no_worker", `Worker ${address} became unavailable: ${detail}`, {
      cause: err,
    });
  return new RadixServeError("internal", `Worker ${address} failed the request: ${detail}`, { cause: err });
}

/** Picks a worker, or throws the pool's error (queue_full / no_worker). */
function lease(pool: WorkerPool, modelId: string, route: PickRoute): WorkerLease {
  const pick = pool.pick(modelId, route);
  if (!pick.ok) throw pick.error;
  return pick.value;
}

/**
 * Yields the choice's events. `signal` aborts it (client disconnected): the call is cancelled and
 * the generator ends with finish reason "abort". Worker errors are thrown as RadixServeError.
 * A worker that is unreachable before its first event is retried once on another worker.
 * `after`, when given, delays the dispatch until it settles (n > 1: the first sample of a prompt
 * prefills it, the others then find it in the worker's prefix cache).
 */
export async function* runChoice(
  deps: ChoiceDeps,
  spec: ChoiceSpec,
  signal: AbortSignal,
  after?: Promise<void>,
): AsyncGenerator<ChoiceEvent, void, undefined> {
  // Admission (--queue-size): wait for a slot, or 429; the slot is held until the choice ends.
  const admission = getTracer().startSpan("admission", { parent: deps.trace });
  const slot = await deps.pool.admit(signal);
  if (!slot.ok) admission.setError(slot.error.message);
  admission.end();
  if (!slot.ok) throw slot.error;
  try {
    yield* runAdmitted(deps, spec, signal, after);
  } finally {
    slot.value();
  }
}

async function* runAdmitted(
  deps: ChoiceDeps,
  spec: ChoiceSpec,
  signal: AbortSignal,
  after?: Promise<void>,
): AsyncGenerator<ChoiceEvent, void, undefined> {
  const { pool, codec } = deps;
  if (after) {
    // Wait (abortably) for a sibling choice to have prefilled the shared prompt.
    await Promise.race([
      after,
      new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true })),
    ]);
    if (signal.aborted) {
      const usage = { promptTokens: spec.inputIds.length, completionTokens: 0, cachedTokens: 0 };
      yield { kind: "end", finishReason: "abort", usage };
      return;
    }
  }
  const requestId = randomUUID();
  const eos = spec.ignoreEos ? [] : codec.eosTokenIds;
  const silentIds = new Set<number>([...eos, ...spec.stopTokenIds]);

  const retry = deps.retry ?? DEFAULT_RETRY;
  // Workers this request failed on (never picked again for it): decode/unified and prefill.
  const failedWorkers = new Set<string>();
  const failedPrefill = new Set<string>();
  let retries = 0;
  /** Counts a retry and waits its backoff; false when none is left (or the client left). */
  const retryAfter = async (reason: RetryReason): Promise<boolean> => {
    const pastDeadline = !!spec.deadlineUnixMs && Date.now() >= spec.deadlineUnixMs;
    if (retries >= retry.maxRetries || signal.aborted || pastDeadline) return false;
    retries++;
    const wait = backoffMs(retry, retries);
    deps.onRetry?.(reason, wait);
    await (deps.sleep ?? sleepAbortable)(wait, signal);
    return !signal.aborted;
  };
  for (;;) {
    // Per attempt: a restart begins again from the prompt.
    const decoder = codec.createDecoder(spec.inputIds);
    const matcher = codec.createStopMatcher(spec.stops);
    let received = 0; // token events seen (from the worker that is answering)
    let stoppedByString = false;
    let pendingIds: number[] = []; // generated ids not yet carried by a delta
    let promptLogprobs: PromptTokenInfo[] | undefined;
    let abortTimer: NodeJS.Timeout | null = null;
    // The routing policy sees the prompt (cache-aware picks) and the request id (seeded choices).
    const route = { key: requestId, inputIds: spec.inputIds, exclude: failedWorkers };
    let pair: ReturnType<typeof leasePair<WorkerLease>>;
    const tracer = getTracer();
    const routeSpan = tracer.startSpan("route", {
      parent: deps.trace,
      attributes: { "radixserve.attempt": retries },
    });
    try {
      pair = leasePair(pool, spec.modelId, failedPrefill, () => lease(pool, spec.modelId, route), route);
      routeSpan.setAttribute("radixserve.worker", pair.held.worker.address);
      if (pair.prefill) routeSpan.setAttribute("radixserve.prefill_worker", pair.prefill.address);
      routeSpan.end();
    } catch (err) {
      routeSpan.setError(err instanceof Error ? err.message : String(err)).end();
      // No worker to pick: worth a wait only when open breakers (not health) keep them out.
      if (pool.blockedByBreaker(spec.modelId, failedWorkers) && (await retryAfter("circuit_open"))) continue;
      throw err;
    }
    const { held, prefill } = pair;
    // The worker's spans (and through it the prefill worker's) are children of this one.
    const genSpan = tracer.startSpan("generate", {
      parent: deps.trace,
      kind: "client",
      attributes: { "radixserve.worker": held.worker.address, "radixserve.request_id": requestId },
    });
    const call = held.worker.generate(
      {
        requestId,
        inputIds: spec.inputIds,
        sampling: {
          ...spec.sampling,
          maxNewTokens: spec.maxNewTokens,
          stopTokenIds: [...spec.stopTokenIds],
          ignoreEos: spec.ignoreEos,
          hasLogprobs: spec.logprobs !== null,
          logprobs: spec.logprobs ?? -1,
        },
        priority: 0,
        deadlineUnixMs: spec.deadlineUnixMs ?? 0,
        prefillAddress: prefill?.address ?? "",
        promptLogprobs: spec.promptLogprobs ?? null,
      },
      traceMetadata(genSpan),
    );
    const onAbort = () => call.cancel();
    // The worker aborts at the deadline (finish reason "abort"); this timer only guards against a
    // worker that does not, so a request can never outlive its deadline by much.
    const deadlineTimer =
      spec.deadlineUnixMs && spec.deadlineUnixMs > 0
        ? setTimeout(() => call.cancel(), Math.max(0, spec.deadlineUnixMs - Date.now()) + DEADLINE_GRACE_MS)
        : null;
    if (signal.aborted) call.cancel();
    else signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const ev of call as AsyncIterable<GenerateResponse__Output>) {
        if (ev.event === "promptLogprobs" && ev.promptLogprobs) {
          const start = ev.promptLogprobs.start;
          promptLogprobs = ev.promptLogprobs.logprobs.map((l, i) => ({
            id: spec.inputIds[start + i]!,
            logprob: l.hasLogprob && l.logprob ? l.logprob.logprob : null,
            top: (l.logprob?.top ?? []).map((t) => ({
              id: t.tokenId,
              ...codec.tokenText(t.tokenId),
              logprob: t.logprob,
            })),
          }));
        } else if (ev.event === "token" && ev.token) {
          if (stoppedByString) continue;
          received++;
          if (received === 1) deps.onFirstToken?.();
          else deps.onToken?.();
          const id = ev.token.tokenId;
          const infos: TokenInfo[] = [];
          if (spec.logprobs !== null && ev.token.logprob) {
            infos.push({
              id,
              ...codec.tokenText(id),
              logprob: ev.token.logprob.logprob,
              top: ev.token.logprob.top.map((t) => ({
                id: t.tokenId,
                ...codec.tokenText(t.tokenId),
                logprob: t.logprob,
              })),
            });
          }
          let text = "";
          if (!silentIds.has(id)) {
            pendingIds.push(id);
            const m = matcher.push(decoder.push(id));
            text = m.text;
            if (m.stopped) {
              stoppedByString = true;
              // Ask the worker to stop; keep reading for its `finished` (usage), with a deadline.
              held.worker.abort(requestId, ABORT_RPC_TIMEOUT_MS).catch(() => call.cancel());
              abortTimer = setTimeout(() => call.cancel(), ABORT_GRACE_MS);
            }
          }
          if (text !== "" || infos.length > 0) {
            yield { kind: "delta", text, tokens: infos, ids: pendingIds };
            pendingIds = [];
          }
        } else if (ev.event === "finished" && ev.finished) {
          if (!stoppedByString) {
            const tail = matcher.push(decoder.flush());
            const rest = tail.stopped ? tail.text : tail.text + matcher.flush();
            if (tail.stopped) stoppedByString = true;
            if (rest !== "" || pendingIds.length > 0)
              yield { kind: "delta", text: rest, tokens: [], ids: pendingIds };
          }
          const u = ev.finished.usage;
          const reason = stoppedByString ? "stop" : finishReasonOf(ev.finished.reason);
          yield {
            kind: "end",
            finishReason: signal.aborted ? "abort" : reason,
            usage: {
              promptTokens: u?.promptTokens || spec.inputIds.length,
              // The worker counts the stop token it does not send; after a stop string we count.
              completionTokens: stoppedByString ? received : (u?.completionTokens ?? received),
              cachedTokens: u?.cachedTokens ?? 0,
            },
            ...(promptLogprobs ? { promptLogprobs } : {}),
          };
          return;
        } else if (ev.event === "error" && ev.error) {
          throw RadixServeError.fromWorkerError(ev.error);
        }
      }
      // The stream ended without `finished`: a worker bug or a cut connection.
      throw new RadixServeError(
        "internal",
        `Worker ${held.worker.address} ended the stream without a result.`,
      );
    } catch (err) {
      const cancelled = isGrpcError(err) && err.code === GrpcStatus.CANCELLED;
      const pastDeadline = !!spec.deadlineUnixMs && Date.now() >= spec.deadlineUnixMs;
      if (cancelled && (signal.aborted || stoppedByString || pastDeadline)) {
        yield {
          kind: "end",
          finishReason: stoppedByString && !signal.aborted ? "stop" : "abort",
          usage: { promptTokens: spec.inputIds.length, completionTokens: received, cachedTokens: 0 },
        };
        return;
      }
      const failure = workerFailure(err, held.worker.address);
      genSpan.setError(`${failure.code}: ${failure.message}`);
      if (failure.code === "no_worker" || failure.code === "draining")
        pool.markFailed(held.worker, failure.message);
      // Retry only while nothing reached the client (no token yet; deltas come only from tokens),
      // or at any point of a choice whose answer is sent only at its end.
      const reason = received === 0 || spec.restartable ? retryReasonOf(failure) : null;
      if (reason === "kv_transfer_failed" && !prefill) throw failure; // not a PD request: nothing to change
      if (reason === "kv_transfer_failed") failedPrefill.add(prefill!.address);
      else if (reason !== null) failedWorkers.add(held.worker.address);
      if (reason !== null) {
        // Release this attempt's leases before the backoff, not after it: they are not in use.
        call.cancel();
        held.release();
        prefill?.release();
        if (await retryAfter(reason)) {
          if (received > 0) yield { kind: "reset" };
          continue;
        }
      }
      throw failure;
    } finally {
      genSpan.setAttribute("radixserve.completion_tokens", received).end();
      if (abortTimer) clearTimeout(abortTimer);
      if (deadlineTimer) clearTimeout(deadlineTimer);
      signal.removeEventListener("abort", onAbort);
      call.cancel();
      held.release();
      prefill?.release();
    }
  }
}
