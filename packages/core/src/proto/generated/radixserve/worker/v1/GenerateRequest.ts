// Original file: protos/radixserve/worker/v1/worker.proto

import type { SamplingParams as _radixserve_worker_v1_SamplingParams, SamplingParams__Output as _radixserve_worker_v1_SamplingParams__Output } from '../../../radixserve/worker/v1/SamplingParams.js';
import type { PromptLogprobsRequest as _radixserve_worker_v1_PromptLogprobsRequest, PromptLogprobsRequest__Output as _radixserve_worker_v1_PromptLogprobsRequest__Output } from '../../../radixserve/worker/v1/PromptLogprobsRequest.js';
import type { Long } from '@grpc/proto-loader';

export interface GenerateRequest {
  /**
   * unique per request; a 64-bit-safe string, never parsed as a number
   */
  'requestId'?: (string);
  'inputIds'?: (number)[];
  'sampling'?: (_radixserve_worker_v1_SamplingParams | null);
  /**
   * higher runs first among queued requests; FCFS within a priority
   */
  'priority'?: (number);
  /**
   * 0 = no deadline; past it the request is aborted
   */
  'deadlineUnixMs'?: (number | string | Long);
  /**
   * Prefill/decode disaggregation: sent to a decode worker, the gRPC address (host:port) of the
   * prefill worker the router paired it with. Empty = the worker prefills itself (unified, or a
   * decode worker without a partner).
   */
  'prefillAddress'?: (string);
  /**
   * Prompt logprobs: absent = none (and no cost). The worker recomputes the rows they need instead of
   * serving them from its prefix cache, and sends them once, before the first token.
   */
  'promptLogprobs'?: (_radixserve_worker_v1_PromptLogprobsRequest | null);
}

export interface GenerateRequest__Output {
  /**
   * unique per request; a 64-bit-safe string, never parsed as a number
   */
  'requestId': (string);
  'inputIds': (number)[];
  'sampling': (_radixserve_worker_v1_SamplingParams__Output | null);
  /**
   * higher runs first among queued requests; FCFS within a priority
   */
  'priority': (number);
  /**
   * 0 = no deadline; past it the request is aborted
   */
  'deadlineUnixMs': (string);
  /**
   * Prefill/decode disaggregation: sent to a decode worker, the gRPC address (host:port) of the
   * prefill worker the router paired it with. Empty = the worker prefills itself (unified, or a
   * decode worker without a partner).
   */
  'prefillAddress': (string);
  /**
   * Prompt logprobs: absent = none (and no cost). The worker recomputes the rows they need instead of
   * serving them from its prefix cache, and sends them once, before the first token.
   */
  'promptLogprobs': (_radixserve_worker_v1_PromptLogprobsRequest__Output | null);
}
