// Original file: protos/radixserve/worker/v1/worker.proto

import type { TokenEvent as _radixserve_worker_v1_TokenEvent, TokenEvent__Output as _radixserve_worker_v1_TokenEvent__Output } from '../../../radixserve/worker/v1/TokenEvent.js';
import type { Finished as _radixserve_worker_v1_Finished, Finished__Output as _radixserve_worker_v1_Finished__Output } from '../../../radixserve/worker/v1/Finished.js';
import type { WorkerError as _radixserve_worker_v1_WorkerError, WorkerError__Output as _radixserve_worker_v1_WorkerError__Output } from '../../../radixserve/worker/v1/WorkerError.js';
import type { PromptLogprobs as _radixserve_worker_v1_PromptLogprobs, PromptLogprobs__Output as _radixserve_worker_v1_PromptLogprobs__Output } from '../../../radixserve/worker/v1/PromptLogprobs.js';

export interface GenerateResponse {
  'requestId'?: (string);
  'token'?: (_radixserve_worker_v1_TokenEvent | null);
  'finished'?: (_radixserve_worker_v1_Finished | null);
  'error'?: (_radixserve_worker_v1_WorkerError | null);
  /**
   * once, before the first token, when asked
   */
  'promptLogprobs'?: (_radixserve_worker_v1_PromptLogprobs | null);
  'event'?: "token"|"finished"|"error"|"promptLogprobs";
}

export interface GenerateResponse__Output {
  'requestId': (string);
  'token'?: (_radixserve_worker_v1_TokenEvent__Output | null);
  'finished'?: (_radixserve_worker_v1_Finished__Output | null);
  'error'?: (_radixserve_worker_v1_WorkerError__Output | null);
  /**
   * once, before the first token, when asked
   */
  'promptLogprobs'?: (_radixserve_worker_v1_PromptLogprobs__Output | null);
  'event'?: "token"|"finished"|"error"|"promptLogprobs";
}
