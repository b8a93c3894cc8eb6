import type { RadixServeError } from "@radixserve/core";
import type { SamplingParams as EngineSamplingParams, TopLogprob } from "@radixserve/engine-native";
import type { PromptLogprobsParams, PromptLogprobsResult } from "./prompt-logprobs.js";

/** What a caller submits: token ids in, sampling and stop conditions. */
export interface RequestParams {
  id: string;
  inputIds: readonly number[] | Int32Array;
  /** Passed to the engine as is (seed, temperature, penalties, logprobs count). */
  sampling: EngineSamplingParams;
  maxNewTokens: number;
  /** Extra stop token ids (the model's EOS ids are always stops unless ignoreEos). */
  stopTokenIds?: readonly number[];
  ignoreEos?: boolean;
  /** Higher runs first among queued requests; FCFS within a priority. Default 0. */
  priority?: number;
  /** Logprobs of the prompt's tokens from `start` on (computed in the prefill; validate checks the range). */
  promptLogprobs?: PromptLogprobsParams;
}

export type FinishReasonName = "stop" | "length" | "abort";

export interface RequestUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the prefix cache at the request's first admission. */
  cachedTokens: number;
}

/**
 * Events of one request, in order: `prompt_logprobs` once when asked, zero or more `token`, then exactly one `finished` or `error`.
 * A stop token (EOS / stop_token_ids) is not sent as a `token`: it ends the request and is
 * reported as `matchedStopTokenId` (it still counts in completionTokens).
 */
export type RequestEvent =
  | ({ type: "prompt_logprobs" } & PromptLogprobsResult)
  | { type: "token"; tokenId: number; logprob?: { logprob: number; top: TopLogprob[] } }
  | { type: "finished"; reason: FinishReasonName; usage: RequestUsage; matchedStopTokenId: number }
  | { type: "error"; error: RadixServeError };

export type RequestSink = (event: RequestEvent) => void;

/** Why a request is being aborted: decides whether it ends as finished(abort) or as an error. */
export type AbortCause =
  | { kind: "client" }
  | { kind: "explicit" }
  | { kind: "deadline" }
  | { kind: "error"; error: RadixServeError };
