/**
 * The one converter between the engine's logprobs (a sampled token's logprob and its top
 * alternatives as { token, logprob }) and the proto's TokenLogprob ({ logprob, top: [{ tokenId,
 * logprob }] }), both ways: a token event to the router, P's first token to D, and back.
 */
import type {
  PromptLogprobs,
  PromptLogprobs__Output,
  TokenLogprob,
  TokenLogprob__Output,
} from "@radixserve/core";
import type { TopLogprob } from "@radixserve/engine-native";
import type { PromptLogprobsResult } from "./scheduler/prompt-logprobs.js";

/** A sampled token's logprob and top alternatives, as the scheduler carries them. */
export interface SampledLogprob {
  logprob: number;
  top: readonly TopLogprob[];
}

export function toProtoLogprob(l: SampledLogprob): TokenLogprob {
  return { logprob: l.logprob, top: l.top.map((t) => ({ tokenId: t.token, logprob: t.logprob })) };
}

export function fromProtoLogprob(p: TokenLogprob__Output): { logprob: number; top: TopLogprob[] } {
  return { logprob: p.logprob, top: p.top.map((t) => ({ token: t.tokenId, logprob: t.logprob })) };
}

export function toProtoPromptLogprobs(r: PromptLogprobsResult): PromptLogprobs {
  return {
    start: r.start,
    logprobs: r.logprobs.map((l) =>
      l ? { hasLogprob: true, logprob: toProtoLogprob(l) } : { hasLogprob: false },
    ),
  };
}

export function fromProtoPromptLogprobs(p: PromptLogprobs__Output): PromptLogprobsResult {
  return {
    start: p.start,
    logprobs: p.logprobs.map((l) => (l.hasLogprob && l.logprob ? fromProtoLogprob(l.logprob) : null)),
  };
}
