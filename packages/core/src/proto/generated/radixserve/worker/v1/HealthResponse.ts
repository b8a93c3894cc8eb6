// Original file: protos/radixserve/worker/v1/worker.proto


// Original file: protos/radixserve/worker/v1/worker.proto

export const _radixserve_worker_v1_HealthResponse_Status = {
  STATUS_UNSPECIFIED: 'STATUS_UNSPECIFIED',
  STATUS_SERVING: 'STATUS_SERVING',
  STATUS_DRAINING: 'STATUS_DRAINING',
  STATUS_STARTING: 'STATUS_STARTING',
} as const;

export type _radixserve_worker_v1_HealthResponse_Status =
  | 'STATUS_UNSPECIFIED'
  | 0
  | 'STATUS_SERVING'
  | 1
  | 'STATUS_DRAINING'
  | 2
  | 'STATUS_STARTING'
  | 3

export type _radixserve_worker_v1_HealthResponse_Status__Output = typeof _radixserve_worker_v1_HealthResponse_Status[keyof typeof _radixserve_worker_v1_HealthResponse_Status]

export interface HealthResponse {
  'status'?: (_radixserve_worker_v1_HealthResponse_Status);
  /**
   * "unified", "prefill" or "decode"
   */
  'disaggMode'?: (string);
}

export interface HealthResponse__Output {
  'status': (_radixserve_worker_v1_HealthResponse_Status__Output);
  /**
   * "unified", "prefill" or "decode"
   */
  'disaggMode': (string);
}
