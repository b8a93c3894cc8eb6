// Original file: protos/radixserve/worker/v1/worker.proto

import type { TokenLogprob as _radixserve_worker_v1_TokenLogprob, TokenLogprob__Output as _radixserve_worker_v1_TokenLogprob__Output } from '../../../radixserve/worker/v1/TokenLogprob.js';

/**
 * One generated token. A stop token (EOS or a requested stop id) is not sent as a TokenEvent: it
 * ends the request and is reported in Finished.matched_stop_token_id (it counts in completion_tokens).
 */
export interface TokenEvent {
  'tokenId'?: (number);
  /**
   * set only when logprobs were asked
   */
  'logprob'?: (_radixserve_worker_v1_TokenLogprob | null);
}

/**
 * One generated token. A stop token (EOS or a requested stop id) is not sent as a TokenEvent: it
 * ends the request and is reported in Finished.matched_stop_token_id (it counts in completion_tokens).
 */
export interface TokenEvent__Output {
  'tokenId': (number);
  /**
   * set only when logprobs were asked
   */
  'logprob': (_radixserve_worker_v1_TokenLogprob__Output | null);
}
