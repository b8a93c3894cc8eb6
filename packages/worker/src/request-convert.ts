import type { GenerateRequest__Output } from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import type { SamplingParams as EngineSamplingParams } from "@radixserve/engine-native";
import type { RequestParams } from "./scheduler/index.js";

/**
 * Proto GenerateRequest -> scheduler RequestParams. Applies the proto's documented real defaults
 * (top_p 0 -> 1, repetition_penalty 0 -> 1, logprobs only when has_logprobs); the scheduler then
 * validates ranges against the model.
 */
export function toRequestParams(req: GenerateRequest__Output): RequestParams | RadixServeError {
  if (!req.requestId)
    return new RadixServeError("invalid_request", "request_id is required", { param: "request_id" });
  const s = req.sampling;
  if (!s)
    return new RadixServeError("invalid_request", "sampling is required (max_new_tokens > 0)", {
      param: "sampling",
    });
  const sampling: EngineSamplingParams = {
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP === 0 ? 1 : s.topP,
    minP: s.minP,
    repetitionPenalty: s.repetitionPenalty === 0 ? 1 : s.repetitionPenalty,
    frequencyPenalty: s.frequencyPenalty,
    presencePenalty: s.presencePenalty,
  };
  if (s.seed !== undefined && s.seed !== null) {
    // uint64 arrives as a decimal string; the engine takes a JS number: keep the low 53 bits.
    sampling.seed = Number(BigInt.asUintN(53, BigInt(s.seed)));
  }
  if (s.hasLogprobs) sampling.logprobs = s.logprobs;
  const bias = Object.entries(s.logitBias ?? {});
  if (bias.length > 0)
    sampling.logitBias = {
      tokenIds: Int32Array.from(bias, ([id]) => Number(id)),
      values: Float32Array.from(bias, ([, v]) => v),
    };
  return {
    id: req.requestId,
    inputIds: req.inputIds,
    sampling,
    maxNewTokens: s.maxNewTokens,
    stopTokenIds: s.stopTokenIds,
    ignoreEos: s.ignoreEos,
    priority: req.priority,
    ...(req.promptLogprobs
      ? { promptLogprobs: { start: req.promptLogprobs.start, top: req.promptLogprobs.top } }
      : {}),
  };
}
