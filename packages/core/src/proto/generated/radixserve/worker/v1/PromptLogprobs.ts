// Original file: protos/radixserve/worker/v1/worker.proto

import type { PromptTokenLogprob as _radixserve_worker_v1_PromptTokenLogprob, PromptTokenLogprob__Output as _radixserve_worker_v1_PromptTokenLogprob__Output } from '../../../radixserve/worker/v1/PromptTokenLogprob.js';

/**
 * logprobs[i] is prompt token start + i's log-probability given the tokens before it. Token 0 has
 * none: its entry has no logprob (has_logprob false).
 */
export interface PromptLogprobs {
  'start'?: (number);
  'logprobs'?: (_radixserve_worker_v1_PromptTokenLogprob)[];
}

/**
 * logprobs[i] is prompt token start + i's log-probability given the tokens before it. Token 0 has
 * none: its entry has no logprob (has_logprob false).
 */
export interface PromptLogprobs__Output {
  'start': (number);
  'logprobs': (_radixserve_worker_v1_PromptTokenLogprob__Output)[];
}
