// Original file: protos/radixserve/worker/v1/worker.proto


export interface GetModelInfoRequest {
}

export interface GetModelInfoRequest__Output {
}
