// Original file: protos/radixserve/worker/v1/worker.proto


export interface TransferAck {
  'ok'?: (boolean);
  'error'?: (string);
}

export interface TransferAck__Output {
  'ok': (boolean);
  'error': (string);
}
