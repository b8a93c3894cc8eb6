// Original file: protos/radixserve/worker/v1/worker.proto

import type { Long } from '@grpc/proto-loader';

export interface SamplingParams {
  /**
   * 0 = greedy
   */
  'temperature'?: (number | string);
  /**
   * <= 0 disables
   */
  'topK'?: (number);
  /**
   * real default 1.0 (0 is read as 1.0)
   */
  'topP'?: (number | string);
  /**
   * 0 disables
   */
  'minP'?: (number | string);
  /**
   * real default 1.0 (0 is read as 1.0)
   */
  'repetitionPenalty'?: (number | string);
  'frequencyPenalty'?: (number | string);
  'presencePenalty'?: (number | string);
  /**
   * absent: random
   */
  'seed'?: (number | string | Long);
  /**
   * required, > 0
   */
  'maxNewTokens'?: (number);
  /**
   * extra stop tokens (the model's EOS ids are always stops unless ignore_eos)
   */
  'stopTokenIds'?: (number)[];
  'ignoreEos'?: (boolean);
  /**
   * real default -1 (no logprobs): the field is only read when has_logprobs
   */
  'logprobs'?: (number);
  'hasLogprobs'?: (boolean);
  /**
   * OpenAI's logit_bias: token id -> value in [-100, 100] added to its logit before sampling.
   */
  'logitBias'?: ({[key: number]: number | string});
  '_seed'?: "seed";
}

export interface SamplingParams__Output {
  /**
   * 0 = greedy
   */
  'temperature': (number);
  /**
   * <= 0 disables
   */
  'topK': (number);
  /**
   * real default 1.0 (0 is read as 1.0)
   */
  'topP': (number);
  /**
   * 0 disables
   */
  'minP': (number);
  /**
   * real default 1.0 (0 is read as 1.0)
   */
  'repetitionPenalty': (number);
  'frequencyPenalty': (number);
  'presencePenalty': (number);
  /**
   * absent: random
   */
  'seed'?: (string);
  /**
   * required, > 0
   */
  'maxNewTokens': (number);
  /**
   * extra stop tokens (the model's EOS ids are always stops unless ignore_eos)
   */
  'stopTokenIds': (number)[];
  'ignoreEos': (boolean);
  /**
   * real default -1 (no logprobs): the field is only read when has_logprobs
   */
  'logprobs': (number);
  'hasLogprobs': (boolean);
  /**
   * OpenAI's logit_bias: token id -> value in [-100, 100] added to its logit before sampling.
   */
  'logitBias': ({[key: number]: number});
  '_seed'?: "seed";
}
