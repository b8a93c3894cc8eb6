// Original file: protos/radixserve/worker/v1/worker.proto


export interface FlushCacheResponse {
  'blocksFreed'?: (number);
}

export interface FlushCacheResponse__Output {
  'blocksFreed': (number);
}
