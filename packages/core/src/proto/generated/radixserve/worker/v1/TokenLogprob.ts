// Original file: protos/radixserve/worker/v1/worker.proto

import type { TopLogprob as _radixserve_worker_v1_TopLogprob, TopLogprob__Output as _radixserve_worker_v1_TopLogprob__Output } from '../../../radixserve/worker/v1/TopLogprob.js';

export interface TokenLogprob {
  'logprob'?: (number | string);
  'top'?: (_radixserve_worker_v1_TopLogprob)[];
}

export interface TokenLogprob__Output {
  'logprob': (number);
  'top': (_radixserve_worker_v1_TopLogprob__Output)[];
}
