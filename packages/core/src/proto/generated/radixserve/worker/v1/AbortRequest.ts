// Original file: protos/radixserve/worker/v1/worker.proto


export interface AbortRequest {
  'requestId'?: (string);
}

export interface AbortRequest__Output {
  'requestId': (string);
}
