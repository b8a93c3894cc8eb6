// Public surface of @radixserve/router: the OpenAI gateway, routing policies, the KV index and the
// router process. It never loads the native engine (no dependency on the worker or engine-native).
export { ROUTER_ERRORS, RouterError, type RouterErrorCode } from "./errors.js";
export { type ChoiceEvent, type ChoiceSpec, type FinishReason, runChoice } from "./gateway/choice-runner.js";
export { CoreTextCodec } from "./gateway/core-codec.js";
export { type HttpError, type OpenAIErrorBody, toHttpError } from "./gateway/error-body.js";
export { ROUTER_METRIC } from "./gateway/metric-names.js";
export { DEFAULT_LIMITS, type RequestLimits } from "./gateway/request-limits.js";
export { RouterMetrics } from "./gateway/router-metrics.js";
export { buildGateway, DEFAULT_MAX_REQUEST_BYTES, type GatewayOptions } from "./gateway/server.js";
export type { ChatTurn, IncrementalDecoder, StopMatcher, TextCodec } from "./gateway/text-codec.js";
export { TOOL_CALL_PARSER_NAMES } from "./gateway/tool-call-parser.js";
// The cluster layer: routing policies and the router's KV index.
export * from "./kv-index/index.js";
export * from "./policies/index.js";
export {
  DEFAULT_MAX_PENDING_REQUESTS,
  DEFAULT_TOKENIZER_THREADS,
  loadOpenApi,
  type RouterOptions,
  type RunningRouter,
  startRouter,
} from "./router-main.js";
export { type GenerateCall, WorkerClient } from "./workers/worker-client.js";
export {
  type PickRoute,
  type WorkerLease,
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerSnapshot,
} from "./workers/worker-pool.js";
