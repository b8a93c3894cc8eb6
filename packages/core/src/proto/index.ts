// Public surface of the worker gRPC contract: run-time loader + generated message types.
// The types are generated from protos/ by scripts/gen-proto-types.mjs; never edit generated/ by hand.

export type { AbortRequest, AbortRequest__Output } from "./generated/radixserve/worker/v1/AbortRequest.js";
export type { AbortResponse, AbortResponse__Output } from "./generated/radixserve/worker/v1/AbortResponse.js";
export type { Finished, Finished__Output } from "./generated/radixserve/worker/v1/Finished.js";
export { FinishReason, type FinishReason__Output } from "./generated/radixserve/worker/v1/FinishReason.js";
export type {
  FlushCacheRequest,
  FlushCacheRequest__Output,
} from "./generated/radixserve/worker/v1/FlushCacheRequest.js";
export type {
  FlushCacheResponse,
  FlushCacheResponse__Output,
} from "./generated/radixserve/worker/v1/FlushCacheResponse.js";
export type {
  GenerateRequest,
  GenerateRequest__Output,
} from "./generated/radixserve/worker/v1/GenerateRequest.js";
export type {
  GenerateResponse,
  GenerateResponse__Output,
} from "./generated/radixserve/worker/v1/GenerateResponse.js";
export type {
  GetLoadRequest,
  GetLoadRequest__Output,
} from "./generated/radixserve/worker/v1/GetLoadRequest.js";
export type {
  GetLoadResponse,
  GetLoadResponse__Output,
} from "./generated/radixserve/worker/v1/GetLoadResponse.js";
export type {
  GetModelInfoRequest,
  GetModelInfoRequest__Output,
} from "./generated/radixserve/worker/v1/GetModelInfoRequest.js";
export type {
  GetModelInfoResponse,
  GetModelInfoResponse__Output,
} from "./generated/radixserve/worker/v1/GetModelInfoResponse.js";
export type { HealthRequest, HealthRequest__Output } from "./generated/radixserve/worker/v1/HealthRequest.js";
export type {
  HealthResponse,
  HealthResponse__Output,
} from "./generated/radixserve/worker/v1/HealthResponse.js";
export { _radixserve_worker_v1_HealthResponse_Status as HealthStatus } from "./generated/radixserve/worker/v1/HealthResponse.js";
export type {
  PromptLogprobs,
  PromptLogprobs__Output,
} from "./generated/radixserve/worker/v1/PromptLogprobs.js";
export type {
  PromptLogprobsRequest,
  PromptLogprobsRequest__Output,
} from "./generated/radixserve/worker/v1/PromptLogprobsRequest.js";
export type {
  SamplingParams,
  SamplingParams__Output,
} from "./generated/radixserve/worker/v1/SamplingParams.js";
export type { TokenEvent, TokenEvent__Output } from "./generated/radixserve/worker/v1/TokenEvent.js";
export type { TokenLogprob, TokenLogprob__Output } from "./generated/radixserve/worker/v1/TokenLogprob.js";
export type { TopLogprob, TopLogprob__Output } from "./generated/radixserve/worker/v1/TopLogprob.js";
export type { Usage, Usage__Output } from "./generated/radixserve/worker/v1/Usage.js";
export type { WorkerError, WorkerError__Output } from "./generated/radixserve/worker/v1/WorkerError.js";
export type {
  WorkerServiceClient,
  WorkerServiceDefinition,
  WorkerServiceHandlers,
} from "./generated/radixserve/worker/v1/WorkerService.js";
export * from "./load.js";
export * from "./prefill-service.js";
