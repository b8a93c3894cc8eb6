/**
 * OpenAI response objects: whole responses (chat.completion, text_completion) and stream chunks
 * (chat.completion.chunk, text_completion), with logprobs in each endpoint's own shape.
 * Pure functions of the plan and the choices' events; no I/O.
 */
import type { FinishReason, TokenInfo, UsageCounts } from "./choice-runner.js";
import type { RequestPlan } from "./request-plan.js";
import { toolMessage } from "./tool-call-output.js";

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** A finished choice as collected by the non-streaming path. */
export interface ChoiceResult {
  index: number;
  promptIndex: number;
  text: string;
  tokens: TokenInfo[];
  finishReason: FinishReason;
  usage: UsageCounts;
}

/**
 * Usage of a whole request: each prompt counted once (n samples share it, as OpenAI bills it),
 * completion and cached tokens summed over every choice (SGLang's convention).
 */
export function totalUsage(results: readonly { promptIndex: number; usage: UsageCounts }[]): OpenAIUsage {
  const promptByIndex = new Map<number, number>();
  let completion = 0;
  let cached = 0;
  for (const r of results) {
    promptByIndex.set(r.promptIndex, r.usage.promptTokens);
    completion += r.usage.completionTokens;
    cached += r.usage.cachedTokens;
  }
  let prompt = 0;
  for (const v of promptByIndex.values()) prompt += v;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

/** Chat logprobs: `{content: [{token, logprob, bytes, top_logprobs: [...]}]}`. */
export function chatLogprobs(tokens: readonly TokenInfo[]) {
  return {
    content: tokens.map((t) => ({
      token: t.text,
      logprob: t.logprob,
      bytes: t.bytes,
      top_logprobs: t.top.map((x) => ({ token: x.text, logprob: x.logprob, bytes: x.bytes })),
    })),
  };
}

/** Completions logprobs: parallel arrays; `textOffset` is where this batch starts in the choice's text. */
export function completionLogprobs(tokens: readonly TokenInfo[], textOffset: number) {
  let offset = textOffset;
  const offsets: number[] = [];
  for (const t of tokens) {
    offsets.push(offset);
    offset += t.text.length;
  }
  return {
    tokens: tokens.map((t) => t.text),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((x) => [x.text, x.logprob]))),
    text_offset: offsets,
  };
}

export function chatResponse(plan: RequestPlan, results: readonly ChoiceResult[]) {
  return {
    id: plan.id,
    object: "chat.completion" as const,
    created: plan.created,
    model: plan.model,
    choices: results.map((r) => {
      const { message, finishReason } = plan.tools
        ? toolMessage(plan.tools, r.text, r.finishReason)
        : { message: { role: "assistant" as const, content: r.text }, finishReason: r.finishReason };
      return {
        index: r.index,
        message,
        logprobs: plan.logprobs ? chatLogprobs(r.tokens) : null,
        finish_reason: finishReason,
      };
    }),
    usage: totalUsage(results),
  };
}

export function completionResponse(plan: RequestPlan, results: readonly ChoiceResult[]) {
  return {
    id: plan.id,
    object: "text_completion" as const,
    created: plan.created,
    model: plan.model,
    choices: results.map((r) => ({
      index: r.index,
      text: r.text,
      logprobs: plan.logprobs ? completionLogprobs(r.tokens, 0) : null,
      finish_reason: r.finishReason,
    })),
    usage: totalUsage(results),
  };
}

/** One streamed chunk for one choice; `usage: null` is present on every chunk when include_usage. */
export function streamChunk(plan: RequestPlan, choice: Record<string, unknown>): Record<string, unknown> {
  const chunk: Record<string, unknown> = {
    id: plan.id,
    object: plan.kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: plan.created,
    model: plan.model,
    choices: [choice],
  };
  if (plan.includeUsage) chunk["usage"] = null;
  return chunk;
}

/** The final usage-only chunk (`choices: []`) sent when stream_options.include_usage is true. */
export function usageChunk(plan: RequestPlan, usage: OpenAIUsage): Record<string, unknown> {
  return {
    id: plan.id,
    object: plan.kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: plan.created,
    model: plan.model,
    choices: [],
    usage,
  };
}
