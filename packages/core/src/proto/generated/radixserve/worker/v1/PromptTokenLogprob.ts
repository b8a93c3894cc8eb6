// Original file: protos/radixserve/worker/v1/worker.proto

import type { TokenLogprob as _radixserve_worker_v1_TokenLogprob, TokenLogprob__Output as _radixserve_worker_v1_TokenLogprob__Output } from '../../../radixserve/worker/v1/TokenLogprob.js';

export interface PromptTokenLogprob {
  'hasLogprob'?: (boolean);
  'logprob'?: (_radixserve_worker_v1_TokenLogprob | null);
}

export interface PromptTokenLogprob__Output {
  'hasLogprob': (boolean);
  'logprob': (_radixserve_worker_v1_TokenLogprob__Output | null);
}
