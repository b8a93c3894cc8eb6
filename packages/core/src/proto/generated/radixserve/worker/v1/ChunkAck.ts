// Original file: protos/radixserve/worker/v1/worker.proto


export interface ChunkAck {
  'seq'?: (number);
}

export interface ChunkAck__Output {
  'seq': (number);
}
