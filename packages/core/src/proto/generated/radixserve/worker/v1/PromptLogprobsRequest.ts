// Original file: protos/radixserve/worker/v1/worker.proto


export interface PromptLogprobsRequest {
  /**
   * first prompt position reported (0 .. len(input_ids))
   */
  'start'?: (number);
  /**
   * alternatives per position (0 .. 20)
   */
  'top'?: (number);
}

export interface PromptLogprobsRequest__Output {
  /**
   * first prompt position reported (0 .. len(input_ids))
   */
  'start': (number);
  /**
   * alternatives per position (0 .. 20)
   */
  'top': (number);
}
