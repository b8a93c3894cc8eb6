// Original file: protos/radixserve/worker/v1/worker.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
