// Original file: protos/radixserve/worker/v1/worker.proto


export interface GetLoadRequest {
}

export interface GetLoadRequest__Output {
}
