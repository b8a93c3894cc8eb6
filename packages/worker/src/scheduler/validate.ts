import { RadixServeError } from "@radixserve/core";
import type { SchedulerConfig } from "./config.js";
import type { RequestParams } from "./request.js";

/** Longest request id a worker accepts (ids are logged, hashed into maps and echoed on every event). */
export const MAX_REQUEST_ID_CHARS = 256;
/** Most top logprobs per token (OpenAI's limit; the engine's too). */
export const MAX_TOP_LOGPROBS = 20;

/**
 * Checks a request against the model and pool before it joins a batch; returns the error to
 * answer (naming the field in `param`), or null when it is admissible.
 *
 * Every value the engine's step would refuse is refused here, with the same ranges (the engine
 * checks again, cheaply, in `prepareStep`): a request that passes cannot make a batched step throw
 * on its own account, so one bad request never fails the others in its batch.
 */
export function validateRequest(p: RequestParams, c: SchedulerConfig): RadixServeError | null {
  const bad = (message: string, param: string) => new RadixServeError("invalid_request", message, { param });
  if (typeof p.id !== "string" || p.id.length === 0)
    return bad("request_id must be a non-empty string", "request_id");
  if (p.id.length > MAX_REQUEST_ID_CHARS)
    return bad(`request_id has ${p.id.length} characters; at most ${MAX_REQUEST_ID_CHARS}`, "request_id");
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
  if (p.priority !== undefined && !Number.isSafeInteger(p.priority))
    return bad(`priority must be an integer, got ${p.priority}`, "priority");
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
  const pl = p.promptLogprobs;
  if (pl && (!Number.isInteger(pl.start) || pl.start < 0 || pl.start > n))
    return bad(
      `prompt_logprobs.start must be an integer in 0..${n} (the prompt's length), got ${pl.start}`,
      "prompt_logprobs.start",
    );
  if (pl && (!Number.isInteger(pl.top) || pl.top < 0 || pl.top > MAX_TOP_LOGPROBS))
    return bad(
      `prompt_logprobs.top must be an integer in 0..${MAX_TOP_LOGPROBS}, got ${pl.top}`,
      "prompt_logprobs.top",
    );
  const bias = p.sampling.logitBias;
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
  return validateSampling(p.sampling);
}

type Sampling = RequestParams["sampling"];

/** One sampling field's rule: the wire name (the error's param), the range, the test. */
const SAMPLING_RULES: readonly {
  key: keyof Sampling;
  param: string;
  range: string;
  ok: (x: number) => boolean;
}[] = [
  { key: "temperature", param: "temperature", range: "a finite number >= 0", ok: (x) => x >= 0 },
  { key: "topK", param: "top_k", range: "an integer (<= 0 disables)", ok: Number.isInteger },
  { key: "topP", param: "top_p", range: "in (0, 1]", ok: (x) => x > 0 && x <= 1 },
  { key: "minP", param: "min_p", range: "in [0, 1]", ok: (x) => x >= 0 && x <= 1 },
  { key: "repetitionPenalty", param: "repetition_penalty", range: "a finite number > 0", ok: (x) => x > 0 },
  { key: "frequencyPenalty", param: "frequency_penalty", range: "in [-2, 2]", ok: (x) => Math.abs(x) <= 2 },
  { key: "presencePenalty", param: "presence_penalty", range: "in [-2, 2]", ok: (x) => Math.abs(x) <= 2 },
  {
    key: "seed",
    param: "seed",
    range: "a non-negative integer below 2^53",
    ok: (x) => Number.isSafeInteger(x) && x >= 0,
  },
  {
    key: "logprobs",
    param: "logprobs",
    range: `an integer in [0, ${MAX_TOP_LOGPROBS}] (or -1: none)`,
    ok: (x) => Number.isInteger(x) && x >= -1 && x <= MAX_TOP_LOGPROBS,
  },
];

/** The sampling values a step accepts (the engine's ranges); the first one out of range is named. */
export function validateSampling(s: Sampling): RadixServeError | null {
  for (const rule of SAMPLING_RULES) {
    const v = s[rule.key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || !rule.ok(v))
      return new RadixServeError("invalid_request", `${rule.param} = ${v} is out of range: ${rule.range}`, {
        param: rule.param,
      });
  }
  return null;
}
