import { RadixServeError } from "@radixserve/core";
import type { SchedulerConfig } from "./config.js";
import type { RequestParams } from "./request.js";

/** Checks a request against the model and pool; returns the error to answer, or null when it is admissible. */
export function validateRequest(p: RequestParams, c: SchedulerConfig): RadixServeError | null {
  const bad = (message: string, param?: string) =>
    new RadixServeError("invalid_request", message, param ? { param } : undefined);
  if (typeof p.id !== "string" || p.id.length === 0)
    return bad("request_id must be a non-empty string", "request_id");
  const n = p.inputIds.length;
  if (n === 0) return bad("input_ids is empty: a request needs at least one prompt token", "input_ids");
  for (let i = 0; i < n; i++) {
    const t = p.inputIds[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize)
      return bad(
        `input_ids[${i}] = ${t} is not a token id of this model (vocabulary size ${c.vocabSize})`,
        "input_ids",
      );
  }
  if (!Number.isInteger(p.maxNewTokens) || p.maxNewTokens <= 0)
    return bad(`max_new_tokens must be a positive integer, got ${p.maxNewTokens}`, "max_new_tokens");
  if (n >= c.maxContextLength)
    return new RadixServeError(
      "prompt_too_long",
      `the prompt has ${n} tokens but the model's context length is ${c.maxContextLength}`,
      { param: "input_ids" },
    );
  if (n + p.maxNewTokens > c.maxContextLength)
    return new RadixServeError(
      "prompt_too_long",
      `prompt (${n} tokens) + max_new_tokens (${p.maxNewTokens}) = ${n + p.maxNewTokens} exceeds the model's context length ${c.maxContextLength}`,
      { param: "max_new_tokens" },
    );
  const blocks = Math.ceil((n + p.maxNewTokens) / c.blockSize);
  if (blocks > c.numBlocks)
    return new RadixServeError(
      "prompt_too_long",
      `prompt + max_new_tokens = ${n + p.maxNewTokens} tokens needs ${blocks} KV blocks but the pool has ${c.numBlocks}`,
      { param: "max_new_tokens" },
    );
  for (const t of p.stopTokenIds ?? [])
    if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize)
      return bad(
        `stop token id ${t} is not a token id of this model (vocabulary size ${c.vocabSize})`,
        "stop_token_ids",
      );
  const s = p.sampling;
  if (s.temperature !== undefined && !(s.temperature >= 0))
    return bad("temperature must be >= 0", "temperature");
  if (s.topP !== undefined && !(s.topP > 0 && s.topP <= 1)) return bad("top_p must be in (0, 1]", "top_p");
  if (s.minP !== undefined && !(s.minP >= 0 && s.minP <= 1)) return bad("min_p must be in [0, 1]", "min_p");
  if (s.repetitionPenalty !== undefined && !(s.repetitionPenalty > 0))
    return bad("repetition_penalty must be > 0", "repetition_penalty");
  if (s.frequencyPenalty !== undefined && !(Math.abs(s.frequencyPenalty) <= 2))
    return bad("frequency_penalty must be in [-2, 2]", "frequency_penalty");
  if (s.presencePenalty !== undefined && !(Math.abs(s.presencePenalty) <= 2))
    return bad("presence_penalty must be in [-2, 2]", "presence_penalty");
  const bias = s.logitBias;
  if (bias !== undefined)
    for (let i = 0; i < bias.tokenIds.length; i++) {
      const t = bias.tokenIds[i]!;
      if (t < 0 || t >= c.vocabSize)
        return bad(
          `logit_bias token id ${t} is not a token id of this model (vocabulary size ${c.vocabSize})`,
          "logit_bias",
        );
      if (!(Math.abs(bias.values[i]!) <= 100))
        return bad("logit_bias values must be in [-100, 100]", "logit_bias");
    }
  if (s.logprobs !== undefined && s.logprobs >= 0 && !(Number.isInteger(s.logprobs) && s.logprobs <= 20))
    return bad("logprobs must be an integer in [0, 20]", "logprobs");
  return null;
}
