// Original file: protos/radixserve/worker/v1/worker.proto

export const FinishReason = {
  FINISH_REASON_UNSPECIFIED: 'FINISH_REASON_UNSPECIFIED',
  /**
   * a stop token (EOS or a requested stop token id)
   */
  FINISH_REASON_STOP: 'FINISH_REASON_STOP',
  /**
   * max_new_tokens or the context length reached
   */
  FINISH_REASON_LENGTH: 'FINISH_REASON_LENGTH',
  /**
   * aborted (client gone, deadline, explicit, drain)
   */
  FINISH_REASON_ABORT: 'FINISH_REASON_ABORT',
} as const;

export type FinishReason =
  | 'FINISH_REASON_UNSPECIFIED'
  | 0
  /**
   * a stop token (EOS or a requested stop token id)
   */
  | 'FINISH_REASON_STOP'
  | 1
  /**
   * max_new_tokens or the context length reached
   */
  | 'FINISH_REASON_LENGTH'
  | 2
  /**
   * aborted (client gone, deadline, explicit, drain)
   */
  | 'FINISH_REASON_ABORT'
  | 3

export type FinishReason__Output = typeof FinishReason[keyof typeof FinishReason]
