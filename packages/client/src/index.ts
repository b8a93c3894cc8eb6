export {
  type ChatMessage,
  type EndpointOptions,
  type GenerateRequest,
  type GenerateResult,
  type LogprobEntry,
  type MetaInfo,
  RuntimeEndpoint,
  type SamplingParams,
} from "./endpoint.js";
export {
  AuthenticationError,
  ConnectionError,
  InvalidRequestError,
  RadixServeClientError,
  RateLimitError,
  ServerError,
} from "./errors.js";
export {
  type BatchOptions,
  type BatchState,
  Program,
  type ProgramFn,
  program,
  type RunOptions,
  setDefaultEndpoint,
} from "./program.js";
export type { ProgressMode, ProgressSink } from "./progress.js";
export { type Expr, type GenOptions, ProgramState, type SelectScores } from "./state.js";
