// Original file: protos/radixserve/worker/v1/worker.proto

import type { KvChunk as _radixserve_worker_v1_KvChunk, KvChunk__Output as _radixserve_worker_v1_KvChunk__Output } from '../../../radixserve/worker/v1/KvChunk.js';
import type { PrefillDone as _radixserve_worker_v1_PrefillDone, PrefillDone__Output as _radixserve_worker_v1_PrefillDone__Output } from '../../../radixserve/worker/v1/PrefillDone.js';
import type { WorkerError as _radixserve_worker_v1_WorkerError, WorkerError__Output as _radixserve_worker_v1_WorkerError__Output } from '../../../radixserve/worker/v1/WorkerError.js';

export interface PrefillServerMessage {
  'chunk'?: (_radixserve_worker_v1_KvChunk | null);
  'done'?: (_radixserve_worker_v1_PrefillDone | null);
  'error'?: (_radixserve_worker_v1_WorkerError | null);
  'msg'?: "chunk"|"done"|"error";
}

export interface PrefillServerMessage__Output {
  'chunk'?: (_radixserve_worker_v1_KvChunk__Output | null);
  'done'?: (_radixserve_worker_v1_PrefillDone__Output | null);
  'error'?: (_radixserve_worker_v1_WorkerError__Output | null);
  'msg'?: "chunk"|"done"|"error";
}
