// Original file: protos/radixserve/worker/v1/worker.proto


export interface Usage {
  'promptTokens'?: (number);
  'completionTokens'?: (number);
  /**
   * prompt tokens served from the prefix cache
   */
  'cachedTokens'?: (number);
}

export interface Usage__Output {
  'promptTokens': (number);
  'completionTokens': (number);
  /**
   * prompt tokens served from the prefix cache
   */
  'cachedTokens': (number);
}
