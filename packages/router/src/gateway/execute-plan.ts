/**
 * Runs a request plan's choices on the workers and answers: one JSON body, or an SSE stream in
 * OpenAI's exact shape (chat: a role delta first; content deltas; a finish chunk per choice; an
 * optional usage chunk with `choices: []`; then `data: [DONE]`).
 *
 * Streaming waits for every choice's first event before sending headers, so a failure before the
 * first token (no worker, queue full, a worker-side validation error) is still a plain HTTP error
 * with the right status. After headers, a failure is sent as an SSE `data: {"error": ...}` event.
 * The client closing the connection aborts every choice (the gRPC calls are cancelled).
 */
import { getTracer, parseTraceparent, type Span } from "@radixserve/core";
import type { FastifyReply } from "fastify";
import {
  type ChoiceDeps,
  type ChoiceEvent,
  runChoice,
  type TokenInfo,
  type UsageCounts,
} from "./choice-runner.js";
import { toHttpError } from "./error-body.js";
import { mergeTagged } from "./merge.js";
import {
  type ChoiceResult,
  chatLogprobs,
  chatResponse,
  completionLogprobs,
  completionResponse,
  streamChunk,
  totalUsage,
  usageChunk,
} from "./openai-format.js";
import type { RequestPlan } from "./request-plan.js";
import { CLIENT_CLOSED, type RouterMetrics } from "./router-metrics.js";
import { openSse } from "./sse.js";
import { ToolCallStream } from "./tool-call-output.js";

export interface ExecuteContext {
  deps: Omit<ChoiceDeps, "onFirstToken" | "onToken">;
  metrics: RouterMetrics;
  /** performance.now() at the request's arrival, in ms. */
  arrivalMs: number;
  /**
   * Called when the response becomes an SSE stream: from then on this module counts the request
   * in the HTTP metrics (with 499 when the client left), not the server's onResponse hook.
   */
  onStreamStart?: () => void;
  /** The client's W3C `traceparent` header, if it sent one: the request's span joins that trace. */
  traceparent?: string | undefined;
  /** The request's span (set by executePlan). */
  span?: Span;
}

function nowMs(): number {
  return performance.now();
}

/**
 * Starts every choice of a plan. With n > 1, sample 0 of each prompt goes first and the other
 * samples are dispatched once it has produced its first event (so its prompt is prefilled and in
 * the worker's prefix cache), instead of n copies of the same prefill racing each other.
 */
function startChoices(
  plan: RequestPlan,
  ctx: ExecuteContext,
  signal: AbortSignal,
): AsyncGenerator<ChoiceEvent>[] {
  const gates = new Map<number, { promise: Promise<void>; open: () => void }>();
  return plan.choices.map((c) => {
    let gate = gates.get(c.promptIndex);
    if (!gate) {
      let open = () => {};
      const promise = new Promise<void>((r) => {
        open = r;
      });
      gate = { promise, open };
      gates.set(c.promptIndex, gate);
      return openGateOnFirstEvent(runChoice(choiceDeps(ctx), c.spec, signal), gate.open);
    }
    return runChoice(choiceDeps(ctx), c.spec, signal, gate.promise);
  });
}

async function* openGateOnFirstEvent<T>(gen: AsyncGenerator<T>, open: () => void): AsyncGenerator<T> {
  try {
    for await (const ev of gen) {
      open();
      yield ev;
    }
  } finally {
    open(); // also on errors and early exits: the siblings must never wait forever
  }
}

/** Per-choice deps that feed the TTFT / inter-token histograms. */
function choiceDeps(ctx: ExecuteContext): ChoiceDeps {
  let last = 0;
  return {
    ...ctx.deps,
    trace: ctx.span,
    onFirstToken: () => {
      last = nowMs();
      ctx.metrics.serving.ttft.observe((last - ctx.arrivalMs) / 1000);
    },
    onToken: () => {
      const t = nowMs();
      ctx.metrics.serving.itl.observe((t - last) / 1000);
      last = t;
    },
  };
}

/** Counts each finished choice (reason, tokens) in the serving metrics. */
function recordFinished(ctx: ExecuteContext, ev: Extract<ChoiceEvent, { kind: "end" }>): void {
  ctx.metrics.serving.recordFinished(ev.finishReason, ev.usage);
}

/** Watches the HTTP response: aborts when the client goes away before the answer is complete. */
export function clientGoneSignal(reply: FastifyReply): AbortController {
  const ac = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac;
}

export async function executePlan(
  plan: RequestPlan,
  context: ExecuteContext,
  reply: FastifyReply,
): Promise<void> {
  const endpoint = plan.kind === "chat" ? "/v1/chat/completions" : "/v1/completions";
  const span = getTracer().startSpan(`POST ${endpoint}`, {
    parent: parseTraceparent(context.traceparent),
    kind: "server",
    attributes: {
      "http.request.method": "POST",
      "http.route": endpoint,
      "radixserve.choices": plan.choices.length,
      "radixserve.stream": plan.stream,
    },
  });
  const ctx = { ...context, span };
  try {
    await answer(plan, ctx, reply);
    span.setAttribute("http.response.status_code", reply.statusCode);
  } catch (err) {
    const e = toHttpError(err);
    span
      .setAttribute("http.response.status_code", e.status)
      .setError(`${e.body.error.code}: ${e.body.error.message}`);
    throw err;
  } finally {
    span.end();
  }
}

async function answer(plan: RequestPlan, ctx: ExecuteContext, reply: FastifyReply): Promise<void> {
  const gone = clientGoneSignal(reply);
  if (plan.stream) return streamPlan(plan, ctx, reply, gone);
  const gens = startChoices(plan, ctx, gone.signal);
  const results = await Promise.all(
    plan.choices.map(async (c, i): Promise<ChoiceResult> => {
      let text = "";
      let tokens: TokenInfo[] = [];
      for await (const ev of gens[i]!) {
        if (ev.kind === "delta") {
          text += ev.text;
          tokens.push(...ev.tokens);
        } else if (ev.kind === "reset") {
          // The worker died mid-choice: it runs again elsewhere, from its prompt.
          text = "";
          tokens = [];
        } else {
          recordFinished(ctx, ev);
          return { index: c.index, promptIndex: c.promptIndex, text, tokens, ...endOf(ev) };
        }
      }
      throw new Error("choice ended without an end event");
    }),
  ).catch((err) => {
    gone.abort(); // stop the other choices of this request
    throw err;
  });
  const body = plan.kind === "chat" ? chatResponse(plan, results) : completionResponse(plan, results);
  await reply.code(200).send(body);
}

function endOf(ev: Extract<ChoiceEvent, { kind: "end" }>) {
  return { finishReason: ev.finishReason, usage: ev.usage };
}

async function streamPlan(
  plan: RequestPlan,
  ctx: ExecuteContext,
  reply: FastifyReply,
  gone: AbortController,
): Promise<void> {
  const iters = startChoices(plan, ctx, gone.signal);
  // Prime every choice: errors before the first token become plain HTTP errors.
  const firsts = iters.map((it) => it.next());
  try {
    await Promise.all(firsts);
  } catch (err) {
    gone.abort();
    for (const it of iters) void it.return(undefined).catch(() => {});
    throw err;
  }

  const send = openSse(reply); // back-pressure: see ./sse.ts
  ctx.onStreamStart?.();
  const raw = reply.raw;
  const indexOf = plan.choices.map((c) => c.index);
  if (plan.kind === "chat") {
    for (const index of indexOf) {
      await send(
        streamChunk(plan, {
          index,
          delta: { role: "assistant", content: "" },
          logprobs: null,
          finish_reason: null,
        }),
      );
    }
  }
  let clientGone = false;
  let failedWith: string | null = null;
  raw.once("close", () => {
    if (!raw.writableFinished) clientGone = true;
  });
  const textOffset = new Map<number, number>();
  const toolStreams = plan.tools ? indexOf.map(() => new ToolCallStream(plan.tools!)) : null;
  const ended: { promptIndex: number; usage: UsageCounts }[] = [];
  try {
    for await (const [i, ev] of mergeTagged(iters, firsts)) {
      const index = indexOf[i]!;
      if (ev.kind === "reset") throw new Error("a streamed choice cannot restart"); // never restartable
      if (ev.kind === "delta") {
        if (plan.kind === "chat") {
          await send(
            streamChunk(plan, {
              index,
              delta: { content: toolStreams ? toolStreams[i]!.push(ev.text) : ev.text },
              logprobs: plan.logprobs ? chatLogprobs(ev.tokens) : null,
              finish_reason: null,
            }),
          );
        } else {
          const offset = textOffset.get(index) ?? 0;
          await send(
            streamChunk(plan, {
              index,
              text: ev.text,
              logprobs: plan.logprobs ? completionLogprobs(ev.tokens, offset) : null,
              finish_reason: null,
            }),
          );
          textOffset.set(index, offset + ev.text.length);
        }
      } else {
        recordFinished(ctx, ev);
        ended.push({ promptIndex: plan.choices[i]!.promptIndex, usage: ev.usage });
        let finishReason: string = ev.finishReason;
        if (toolStreams) {
          const tail = toolStreams[i]!.end(ev.finishReason);
          for (const delta of tail.deltas)
            send(streamChunk(plan, { index, delta, logprobs: null, finish_reason: null }));
          finishReason = tail.finishReason;
        }
        const last =
          plan.kind === "chat"
            ? { index, delta: {}, logprobs: null, finish_reason: finishReason }
            : { index, text: "", logprobs: null, finish_reason: ev.finishReason };
        await send(streamChunk(plan, last));
      }
    }
    if (plan.includeUsage) await send(usageChunk(plan, totalUsage(ended)));
  } catch (err) {
    gone.abort();
    const e = toHttpError(err, reply.request.id);
    failedWith = e.body.error.code;
    reply.log.warn(
      { code: e.body.error.code, status: e.status, detail: err instanceof Error ? err.message : String(err) },
      "stream failed after headers were sent",
    );
    await send(e.body);
  } finally {
    if (!raw.destroyed) raw.end("data: [DONE]\n\n");
    const endpoint = plan.kind === "chat" ? "/v1/chat/completions" : "/v1/completions";
    // A stream that failed after its headers answered 200 and carried the error body.
    if (clientGone) ctx.metrics.recordAnswer(endpoint, 499, CLIENT_CLOSED);
    else ctx.metrics.recordAnswer(endpoint, 200, failedWith);
    ctx.metrics.serving.e2e.observe((nowMs() - ctx.arrivalMs) / 1000);
  }
}
