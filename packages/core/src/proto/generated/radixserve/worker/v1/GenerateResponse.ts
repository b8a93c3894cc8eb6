// Original file: protos/radixserve/worker/v1/worker.proto

import type { TokenEvent as _radixserve_worker_v1_TokenEvent, TokenEvent__Output as _radixserve_worker_v1_TokenEvent__Output } from '../../../radixserve/worker/v1/TokenEvent.js';
import type { Finished as _radixserve_worker_v1_Finished, Finished__Output as _radixserve_worker_v1_Finished__Output } from '../../../radixserve/worker/v1/Finished.js';
import type { WorkerError as _radixserve_worker_v1_WorkerError, WorkerError__Output as _radixserve_worker_v1_WorkerError__Output } from '../../../radixserve/worker/v1/WorkerError.js';

export interface GenerateResponse {
  'requestId'?: (string);
  'token'?: (_radixserve_worker_v1_TokenEvent | null);
  'finished'?: (_radixserve_worker_v1_Finished | null);
  'error'?: (_radixserve_worker_v1_WorkerError | null);
  'event'?: "token"|"finished"|"error";
}

export interface GenerateResponse__Output {
  'requestId': (string);
  'token'?: (_radixserve_worker_v1_TokenEvent__Output | null);
  'finished'?: (_radixserve_worker_v1_Finished__Output | null);
  'error'?: (_radixserve_worker_v1_WorkerError__Output | null);
  'event'?: "token"|"finished"|"error";
}
