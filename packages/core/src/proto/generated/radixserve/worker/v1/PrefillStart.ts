// Original file: protos/radixserve/worker/v1/worker.proto

import type { GenerateRequest as _radixserve_worker_v1_GenerateRequest, GenerateRequest__Output as _radixserve_worker_v1_GenerateRequest__Output } from '../../../radixserve/worker/v1/GenerateRequest.js';
import type { KvTransferOffer as _radixserve_worker_v1_KvTransferOffer, KvTransferOffer__Output as _radixserve_worker_v1_KvTransferOffer__Output } from '../../../radixserve/worker/v1/KvTransferOffer.js';

export interface PrefillStart {
  /**
   * id, prompt ids and sampling (P samples the first token)
   */
  'request'?: (_radixserve_worker_v1_GenerateRequest | null);
  /**
   * leading prompt blocks D already holds: P does not send them
   */
  'skipBlocks'?: (number);
  /**
   * blocks covering the prompt: ceil(len(input_ids) / block_size)
   */
  'numBlocks'?: (number);
  'offer'?: (_radixserve_worker_v1_KvTransferOffer | null);
  /**
   * most unacked chunks in flight; real default 4 (0 is read as 4)
   */
  'windowChunks'?: (number);
  /**
   * D's model identity; P refuses a different model
   */
  'blockHashSeed'?: (string);
  /**
   * target bytes per chunk; real default 4 MiB (0 is read so)
   */
  'chunkBytes'?: (number);
}

export interface PrefillStart__Output {
  /**
   * id, prompt ids and sampling (P samples the first token)
   */
  'request': (_radixserve_worker_v1_GenerateRequest__Output | null);
  /**
   * leading prompt blocks D already holds: P does not send them
   */
  'skipBlocks': (number);
  /**
   * blocks covering the prompt: ceil(len(input_ids) / block_size)
   */
  'numBlocks': (number);
  'offer': (_radixserve_worker_v1_KvTransferOffer__Output | null);
  /**
   * most unacked chunks in flight; real default 4 (0 is read as 4)
   */
  'windowChunks': (number);
  /**
   * D's model identity; P refuses a different model
   */
  'blockHashSeed': (string);
  /**
   * target bytes per chunk; real default 4 MiB (0 is read so)
   */
  'chunkBytes': (number);
}
