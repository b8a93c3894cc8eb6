// Original file: protos/radixserve/worker/v1/worker.proto

import type { TokenEvent as _radixserve_worker_v1_TokenEvent, TokenEvent__Output as _radixserve_worker_v1_TokenEvent__Output } from '../../../radixserve/worker/v1/TokenEvent.js';
import type { PromptLogprobs as _radixserve_worker_v1_PromptLogprobs, PromptLogprobs__Output as _radixserve_worker_v1_PromptLogprobs__Output } from '../../../radixserve/worker/v1/PromptLogprobs.js';
import type { Long } from '@grpc/proto-loader';

export interface PrefillDone {
  'firstToken'?: (_radixserve_worker_v1_TokenEvent | null);
  /**
   * prompt tokens P served from its own prefix cache
   */
  'cachedTokens'?: (number);
  'blocksSent'?: (number);
  'bytesSent'?: (number | string | Long);
  /**
   * CRC-32C of the chunks' CRC-32Cs (4 bytes LE each), in send order
   */
  'crc32'?: (number);
  /**
   * what P actually used ("grpc" when it could not use the offer)
   */
  'transport'?: (string);
  /**
   * when the request asked for them: P computed them
   */
  'promptLogprobs'?: (_radixserve_worker_v1_PromptLogprobs | null);
}

export interface PrefillDone__Output {
  'firstToken': (_radixserve_worker_v1_TokenEvent__Output | null);
  /**
   * prompt tokens P served from its own prefix cache
   */
  'cachedTokens': (number);
  'blocksSent': (number);
  'bytesSent': (string);
  /**
   * CRC-32C of the chunks' CRC-32Cs (4 bytes LE each), in send order
   */
  'crc32': (number);
  /**
   * what P actually used ("grpc" when it could not use the offer)
   */
  'transport': (string);
  /**
   * when the request asked for them: P computed them
   */
  'promptLogprobs': (_radixserve_worker_v1_PromptLogprobs__Output | null);
}
