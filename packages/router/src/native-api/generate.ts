/**
 * POST /generate (SGLang's native API): runs the plan's items as choices on the workers and
 * answers SGLang's shapes: `{ text, output_ids, meta_info }` per item (an array for a batch), or
 * an SSE stream of cumulative `{ index, text, output_ids, meta_info }` chunks ending in
 * `data: [DONE]`. meta_info: id, finish_reason ({ type: "stop" | "length" | "abort" }),
 * prompt_tokens, completion_tokens, cached_tokens, e2e_latency and, when return_logprob,
 * input_token_logprobs / output_token_logprobs ([logprob, token id, text or null]) and
 * input_top_logprobs / output_top_logprobs (lists of the same per position).
 */
import type { FastifyReply } from "fastify";
import { type ChoiceDeps, type ChoiceEvent, runChoice, type TokenInfo } from "../gateway/choice-runner.js";
import { toHttpError } from "../gateway/error-body.js";
import { clientGoneSignal } from "../gateway/execute-plan.js";
import { mergeTagged } from "../gateway/merge.js";
import { openSse } from "../gateway/sse.js";
import type { TextCodec } from "../gateway/text-codec.js";
import type { GenerateItem, GeneratePlan } from "./generate-plan.js";

type EndEvent = Extract<ChoiceEvent, { kind: "end" }>;
type LogprobEntry = [number | null, number, string | null];

/** What one item has produced so far. */
class ItemState {
  text = "";
  ids: number[] = [];
  tokens: TokenInfo[] = [];
  end: EndEvent | null = null;

  constructor(
    readonly item: GenerateItem,
    readonly startedMs: number,
  ) {}

  apply(ev: ChoiceEvent): void {
    if (ev.kind === "reset") {
      this.text = "";
      this.ids = [];
      this.tokens = [];
    } else if (ev.kind === "delta") {
      if (this.item.scoreOnly) return;
      this.text += ev.text;
      this.ids.push(...ev.ids);
      this.tokens.push(...ev.tokens);
    } else this.end = ev;
  }

  body(codec: TextCodec, textInLogprobs: boolean): Record<string, unknown> {
    const txt = (id: number) => (textInLogprobs ? codec.tokenText(id).text : null);
    const entry = (logprob: number | null, id: number): LogprobEntry => [logprob, id, txt(id)];
    const usage = this.end?.usage;
    const meta: Record<string, unknown> = {
      id: this.item.rid,
      finish_reason: this.end ? { type: this.item.scoreOnly ? "length" : this.end.finishReason } : null,
      prompt_tokens: usage?.promptTokens ?? this.item.spec.inputIds.length,
      completion_tokens: this.item.scoreOnly ? 0 : (usage?.completionTokens ?? this.ids.length),
      cached_tokens: usage?.cachedTokens ?? 0,
      e2e_latency: (performance.now() - this.startedMs) / 1000,
    };
    if (this.item.returnLogprob) {
      const input = this.end?.promptLogprobs ?? [];
      meta.input_token_logprobs = input.map((t) => entry(t.logprob, t.id));
      meta.output_token_logprobs = this.tokens.map((t) => entry(t.logprob, t.id));
      if (this.item.topLogprobs > 0) {
        meta.input_top_logprobs = input.map((t) =>
          t.logprob === null ? null : t.top.map((a) => entry(a.logprob, a.id)),
        );
        meta.output_top_logprobs = this.tokens.map((t) => t.top.map((a) => entry(a.logprob, a.id)));
      }
    }
    return { text: this.text, output_ids: this.ids, meta_info: meta };
  }
}

export interface GenerateContext {
  deps: ChoiceDeps;
  /** Counts a finished choice in the serving metrics. */
  onFinished: (ev: EndEvent) => void;
}

export async function executeGenerate(
  plan: GeneratePlan,
  ctx: GenerateContext,
  reply: FastifyReply,
): Promise<void> {
  const gone = clientGoneSignal(reply);
  const t0 = performance.now();
  const states = plan.items.map((item) => new ItemState(item, t0));
  const iters = plan.items.map((item) =>
    runChoice(ctx.deps, { ...item.spec, restartable: !plan.stream }, gone.signal),
  );
  // The first event of each (or its failure) before anything is sent: errors before the first
  // token are plain HTTP errors.
  const firsts = iters.map((it) => it.next());
  try {
    await Promise.all(firsts);
  } catch (err) {
    gone.abort();
    for (const it of iters) void it.return(undefined).catch(() => {});
    throw err;
  }
  const codec = ctx.deps.codec;
  if (!plan.stream) {
    try {
      for await (const [i, ev] of mergeTagged(iters, firsts)) {
        states[i]!.apply(ev);
        if (ev.kind === "end") ctx.onFinished(ev);
      }
    } catch (err) {
      gone.abort();
      throw err;
    }
    const bodies = states.map((s) => s.body(codec, plan.textInLogprobs));
    await reply.code(200).send(plan.batch ? bodies : bodies[0]);
    return;
  }

  const send = openSse(reply);
  const raw = reply.raw;
  try {
    for await (const [i, ev] of mergeTagged(iters, firsts)) {
      const s = states[i]!;
      s.apply(ev);
      if (ev.kind === "end") ctx.onFinished(ev);
      if (ev.kind === "delta" && s.item.scoreOnly) continue;
      await send({ index: i, ...s.body(codec, plan.textInLogprobs) });
    }
  } catch (err) {
    gone.abort();
    const e = toHttpError(err, reply.request.id);
    reply.log.warn(
      { code: e.body.error.code, status: e.status },
      "generate stream failed after headers were sent",
    );
    await send(e.body);
  } finally {
    if (!raw.destroyed) raw.end("data: [DONE]\n\n");
  }
}
