// Original file: protos/radixserve/worker/v1/worker.proto

import type { FinishReason as _radixserve_worker_v1_FinishReason, FinishReason__Output as _radixserve_worker_v1_FinishReason__Output } from '../../../radixserve/worker/v1/FinishReason.js';
import type { Usage as _radixserve_worker_v1_Usage, Usage__Output as _radixserve_worker_v1_Usage__Output } from '../../../radixserve/worker/v1/Usage.js';

export interface Finished {
  'reason'?: (_radixserve_worker_v1_FinishReason);
  'usage'?: (_radixserve_worker_v1_Usage | null);
  /**
   * the stop token that ended it (-1 when none); real default -1
   */
  'matchedStopTokenId'?: (number);
}

export interface Finished__Output {
  'reason': (_radixserve_worker_v1_FinishReason__Output);
  'usage': (_radixserve_worker_v1_Usage__Output | null);
  /**
   * the stop token that ended it (-1 when none); real default -1
   */
  'matchedStopTokenId': (number);
}
