// Original file: protos/radixserve/worker/v1/worker.proto


export interface AbortResponse {
  'found'?: (boolean);
}

export interface AbortResponse__Output {
  'found': (boolean);
}
