/**
 * WorkerService handlers over a Scheduler (unified mode). Streams one GenerateResponse per token,
 * then `finished` or `error`. Every way a call can end frees the request's blocks: the stream's
 * cancellation (client gone) aborts it, a deadline timer aborts it, errors end it.
 */
import * as grpc from "@grpc/grpc-js";
import {
  type GenerateRequest__Output,
  type GenerateResponse,
  type GetModelInfoResponse,
  getLogger,
  getTracer,
  RadixServeError,
  RateMeter,
  type ServingMetrics,
  type Span,
  traceParentOf,
  type WorkerServiceHandlers,
} from "@radixserve/core";
import { loadResponse, type WorkerStatus } from "./load.js";
import { toProtoLogprob, toProtoPromptLogprobs } from "./logprob.js";
import { toRequestParams } from "./request-convert.js";
import type { AbortCause, RequestEvent, RequestParams, RequestSink, Scheduler } from "./scheduler/index.js";

const log = getLogger("worker");

export interface ServiceContext {
  scheduler: Scheduler;
  metrics: ServingMetrics;
  modelInfo: GetModelInfoResponse;
  disaggMode: string;
  status: () => WorkerStatus;
  /** Generation tokens/s over a recent window. */
  tokensPerSecond: () => number;
  /** Decode mode: KV bytes imported since start (GetLoad's transfer rate). */
  kvBytesMoved?: () => number;
  /**
   * Starts a validated request (decode mode: through a KV transfer from the paired prefill
   * worker). Absent: scheduler.submit. Must report a rejection through the sink (an `error`
   * event), never throw; the returned cancel is called on client cancellation and deadline.
   */
  route?: GenerateRoute;
  /**
   * The load GetLoad reports. Absent: scheduler.stats(). Decode mode adds the requests that are
   * still in their KV transfer (they hold blocks but are not in the scheduler yet).
   */
  stats?: () => ReturnType<Scheduler["stats"]>;
}

/**
 * How a Generate request reaches the scheduler; see ServiceContext.route. `trace` is the request's
 * span on this worker: the route's spans (prefill, or the KV reservation and transfer) are its children.
 */
export type GenerateRoute = (
  params: RequestParams,
  req: GenerateRequest__Output,
  sink: RequestSink,
  trace: Span,
) => { cancel(cause: AbortCause): void };

/** Wraps `sink` so `span` ends at the request's first event (its first token, or its end). */
export function endSpanAtFirstEvent(span: Span, sink: RequestSink): RequestSink {
  if (!span.recording) return sink;
  let open = true;
  return (ev) => {
    if (open) {
      open = false;
      if (ev.type === "error") span.setError(`${ev.error.code}: ${ev.error.message}`);
      span.end();
    }
    sink(ev);
  };
}

/** Prefilled here: the `prefill` span runs from arrival (queueing included) to the first token. */
export function submitRoute(scheduler: Scheduler): GenerateRoute {
  return (params, _req, sink, trace) => {
    const span = getTracer().startSpan("prefill", {
      parent: trace,
      attributes: { "radixserve.prompt_tokens": params.inputIds.length, "radixserve.local": true },
    });
    const r = scheduler.submit(params, endSpanAtFirstEvent(span, sink));
    if (!r.ok) sink({ type: "error", error: r.error });
    return { cancel: (cause) => scheduler.abort(params.id, cause) };
  };
}

const FINISH = {
  stop: "FINISH_REASON_STOP",
  length: "FINISH_REASON_LENGTH",
  abort: "FINISH_REASON_ABORT",
} as const;

export function createWorkerHandlers(ctx: ServiceContext): WorkerServiceHandlers {
  const promptRate = new RateMeter();
  const kvRate = new RateMeter();
  return {
    Generate(call: grpc.ServerWritableStream<GenerateRequest__Output, GenerateResponse>) {
      handleGenerate(ctx, call);
    },
    Abort(call, callback) {
      const found = ctx.scheduler.abort(call.request.requestId, { kind: "explicit" });
      callback(null, { found });
    },
    Health(_call, callback) {
      callback(null, { status: ctx.status(), disaggMode: ctx.disaggMode });
    },
    GetLoad(_call, callback) {
      const s = ctx.stats?.() ?? ctx.scheduler.stats();
      const now = performance.now();
      callback(null, {
        ...loadResponse(s, ctx.tokensPerSecond()),
        promptTokensPerS: promptRate.rate(s.promptTokensTotal, now),
        kvTransferBytesPerS: ctx.kvBytesMoved ? kvRate.rate(ctx.kvBytesMoved(), now) : 0,
      });
    },
    FlushCache(_call, callback) {
      callback(null, { blocksFreed: ctx.scheduler.flushCache() });
    },
    GetModelInfo(_call, callback) {
      callback(null, ctx.modelInfo);
    },
  };
}

function handleGenerate(
  ctx: ServiceContext,
  call: grpc.ServerWritableStream<GenerateRequest__Output, GenerateResponse>,
) {
  const req = call.request;
  const requestId = req.requestId;
  const arrived = performance.now();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastTokenAt = 0;
  const tracer = getTracer();
  // The router's generate span is the parent (W3C traceparent in the call's metadata).
  const span = tracer.startSpan("worker.generate", {
    parent: tracer.enabled ? traceParentOf(call.metadata) : null,
    kind: "server",
    attributes: { "radixserve.role": ctx.disaggMode, "radixserve.request_id": requestId },
  });
  let decodeSpan: Span | null = null;
  const endSpans = (error?: string): void => {
    if (error) span.setError(error);
    decodeSpan?.end();
    span.end();
  };

  const end = (): void => {
    if (closed) return;
    closed = true;
    if (timer) clearTimeout(timer);
    ctx.metrics.e2e.observe((performance.now() - arrived) / 1000);
    endSpans();
    call.end();
  };
  const fail = (error: RadixServeError): void => {
    if (closed) return;
    span.setError(`${error.code}: ${error.message}`);
    ctx.metrics.recordFinished("error");
    log.debug({ requestId, code: error.code, param: error.param, msg: error.message }, "request failed");
    call.write({ requestId, error: error.toWorkerError() });
    if (error.grpcStatus !== grpc.status.INVALID_ARGUMENT) {
      end();
      return;
    }
    // A refused argument also ends the call with INVALID_ARGUMENT naming the field, for any gRPC
    // client; the WorkerError event before it carries the catalog code the router maps.
    closed = true;
    if (timer) clearTimeout(timer);
    const details = error.param ? `${error.param}: ${error.message}` : error.message;
    call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details });
  };

  const params = toRequestParams(req);
  if (params instanceof RadixServeError) {
    fail(params);
    return;
  }
  const deadline = Number(req.deadlineUnixMs);
  const deadlineMs = deadline > 0 ? deadline - Date.now() : Number.POSITIVE_INFINITY;
  if (deadlineMs <= 0) {
    fail(new RadixServeError("deadline_exceeded", `request ${requestId} arrived after its deadline`));
    return;
  }

  const sink = (ev: RequestEvent): void => {
    if (closed) return;
    switch (ev.type) {
      case "token": {
        const now = performance.now();
        if (lastTokenAt === 0) {
          ctx.metrics.ttft.observe((now - arrived) / 1000);
          decodeSpan = tracer.startSpan("decode", { parent: span });
        } else ctx.metrics.itl.observe((now - lastTokenAt) / 1000);
        lastTokenAt = now;
        call.write({
          requestId,
          token: {
            tokenId: ev.tokenId,
            logprob: ev.logprob ? toProtoLogprob(ev.logprob) : null,
          },
        });
        return;
      }
      case "prompt_logprobs":
        call.write({ requestId, promptLogprobs: toProtoPromptLogprobs(ev) });
        return;
      case "finished":
        if (lastTokenAt === 0 && ev.usage.completionTokens > 0)
          ctx.metrics.ttft.observe((performance.now() - arrived) / 1000);
        ctx.metrics.recordFinished(ev.reason, ev.usage);
        decodeSpan?.setAttribute("radixserve.completion_tokens", ev.usage.completionTokens);
        span
          .setAttribute("radixserve.finish_reason", ev.reason)
          .setAttribute("radixserve.cached_tokens", ev.usage.cachedTokens);
        log.debug({ requestId, reason: ev.reason, usage: ev.usage }, "request finished");
        call.write({
          requestId,
          finished: { reason: FINISH[ev.reason], usage: ev.usage, matchedStopTokenId: ev.matchedStopTokenId },
        });
        end();
        return;
      case "error":
        fail(ev.error);
        return;
    }
  };

  const handle = (ctx.route ?? submitRoute(ctx.scheduler))(params, req, sink, span);
  if (closed) return;
  if (Number.isFinite(deadlineMs)) timer = setTimeout(() => handle.cancel({ kind: "deadline" }), deadlineMs);
  call.on("cancelled", () => {
    if (closed) return;
    closed = true;
    if (timer) clearTimeout(timer);
    handle.cancel({ kind: "client" });
    ctx.metrics.recordFinished("abort");
    endSpans("cancelled by the caller");
    log.debug({ requestId }, "client cancelled: request aborted");
  });
}
