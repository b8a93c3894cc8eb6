// Original file: protos/radixserve/worker/v1/worker.proto


export interface FlushCacheRequest {
}

export interface FlushCacheRequest__Output {
}
