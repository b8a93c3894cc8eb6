// Original file: protos/radixserve/worker/v1/worker.proto

import type { PrefillStart as _radixserve_worker_v1_PrefillStart, PrefillStart__Output as _radixserve_worker_v1_PrefillStart__Output } from '../../../radixserve/worker/v1/PrefillStart.js';
import type { ChunkAck as _radixserve_worker_v1_ChunkAck, ChunkAck__Output as _radixserve_worker_v1_ChunkAck__Output } from '../../../radixserve/worker/v1/ChunkAck.js';
import type { TransferAck as _radixserve_worker_v1_TransferAck, TransferAck__Output as _radixserve_worker_v1_TransferAck__Output } from '../../../radixserve/worker/v1/TransferAck.js';

export interface PrefillClientMessage {
  'start'?: (_radixserve_worker_v1_PrefillStart | null);
  'chunkAck'?: (_radixserve_worker_v1_ChunkAck | null);
  'doneAck'?: (_radixserve_worker_v1_TransferAck | null);
  'msg'?: "start"|"chunkAck"|"doneAck";
}

export interface PrefillClientMessage__Output {
  'start'?: (_radixserve_worker_v1_PrefillStart__Output | null);
  'chunkAck'?: (_radixserve_worker_v1_ChunkAck__Output | null);
  'doneAck'?: (_radixserve_worker_v1_TransferAck__Output | null);
  'msg'?: "start"|"chunkAck"|"doneAck";
}
