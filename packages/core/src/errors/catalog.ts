/**
 * The error catalog shared by router and workers (fastify `lib/errors.js` style): every failure a
 * client can see has a stable `code`, a default message, the gRPC status a worker answers with and
 * the HTTP status the gateway answers with. Codes travel on the wire (WorkerError.code), so they
 * never change meaning; add new ones rather than reuse.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";

export interface ErrorSpec {
  /** Stable machine-readable code (snake_case, OpenAI-style `error.code`). */
  readonly code: string;
  /** Default human-readable message; callers usually pass a more specific one. */
  readonly message: string;
  readonly grpcStatus: GrpcStatus;
  readonly httpStatus: number;
  /** OpenAI's `error.type` for the gateway body. */
  readonly type: "invalid_request_error" | "authentication_error" | "rate_limit_error" | "server_error";
}

function spec(
  code: string,
  message: string,
  grpcStatus: GrpcStatus,
  httpStatus: number,
  type: ErrorSpec["type"],
): ErrorSpec {
  return Object.freeze({ code, message, grpcStatus, httpStatus, type });
}

export const ERRORS = Object.freeze({
  invalid_request: spec(
    "invalid_request",
    "invalid request",
    GrpcStatus.INVALID_ARGUMENT,
    400,
    "invalid_request_error",
  ),
  prompt_too_long: spec(
    "prompt_too_long",
    "prompt is longer than the model's context",
    GrpcStatus.INVALID_ARGUMENT,
    400,
    "invalid_request_error",
  ),
  model_not_found: spec(
    "model_not_found",
    "model not found",
    GrpcStatus.NOT_FOUND,
    404,
    "invalid_request_error",
  ),
  unauthorized: spec(
    "unauthorized",
    "invalid or missing API key",
    GrpcStatus.UNAUTHENTICATED,
    401,
    "authentication_error",
  ),
  payload_too_large: spec(
    "payload_too_large",
    "request body too large",
    GrpcStatus.INVALID_ARGUMENT,
    413,
    "invalid_request_error",
  ),
  queue_full: spec(
    "queue_full",
    "server is at capacity, retry later",
    GrpcStatus.RESOURCE_EXHAUSTED,
    429,
    "rate_limit_error",
  ),
  no_worker: spec(
    "no_worker",
    "no worker can take this request",
    GrpcStatus.UNAVAILABLE,
    503,
    "server_error",
  ),
  draining: spec(
    "draining",
    "worker is draining and admits no new requests",
    GrpcStatus.UNAVAILABLE,
    503,
    "server_error",
  ),
  aborted: spec("aborted", "request aborted", GrpcStatus.CANCELLED, 499, "server_error"),
  deadline_exceeded: spec(
    "deadline_exceeded",
    "request deadline exceeded",
    GrpcStatus.DEADLINE_EXCEEDED,
    504,
    "server_error",
  ),
  kv_transfer_failed: spec(
    "kv_transfer_failed",
    "the KV transfer from the prefill worker failed; retry on another prefill worker",
    GrpcStatus.UNAVAILABLE,
    503,
    "server_error",
  ),
  client_too_slow: spec(
    "client_too_slow",
    "the client stopped reading the stream: too many generated tokens were left unread",
    GrpcStatus.RESOURCE_EXHAUSTED,
    408,
    "invalid_request_error",
  ),
  internal: spec("internal", "internal error", GrpcStatus.INTERNAL, 500, "server_error"),
  not_implemented: spec("not_implemented", "not implemented", GrpcStatus.UNIMPLEMENTED, 501, "server_error"),
});

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/** Looks a code up, falling back to `internal` for codes this build does not know (newer peer). */
export function errorSpec(code: string): ErrorSpec {
  return isErrorCode(code) ? ERRORS[code] : ERRORS.internal;
}
