// Original file: protos/radixserve/worker/v1/worker.proto


export interface WorkerError {
  /**
   * stable code from the worker's error catalog, e.g. "prompt_too_long"
   */
  'code'?: (string);
  'message'?: (string);
  /**
   * what the gateway should answer (400, 429, 503, ...)
   */
  'httpStatus'?: (number);
}

export interface WorkerError__Output {
  /**
   * stable code from the worker's error catalog, e.g. "prompt_too_long"
   */
  'code': (string);
  'message': (string);
  /**
   * what the gateway should answer (400, 429, 503, ...)
   */
  'httpStatus': (number);
}
