/**
 * The router's own error codes, beside the shared catalog of @radixserve/core (ERRORS:
 * invalid_request, prompt_too_long, model_not_found, unauthorized, payload_too_large, queue_full,
 * no_worker, ...). Only failures that exist in the HTTP gateway alone live here; everything a
 * worker can also report uses the shared catalog. Both kinds become OpenAI's error body in exactly
 * one place: ./gateway/error-body.ts.
 */

import { status as GrpcStatus } from "@grpc/grpc-js";
import { type ErrorSpec, RadixServeError } from "@radixserve/core";

function spec(code: string, message: string, httpStatus: number, type: ErrorSpec["type"]): ErrorSpec {
  // grpcStatus is required by the shape; the router never answers over gRPC with these.
  return Object.freeze({ code, message, grpcStatus: GrpcStatus.INVALID_ARGUMENT, httpStatus, type });
}

export const ROUTER_ERRORS = Object.freeze({
  /** The body is not valid JSON, empty, or not a JSON object. */
  invalid_json: spec("invalid_json", "the body is not a valid JSON object", 400, "invalid_request_error"),
  /** No such route. */
  route_not_found: spec("route_not_found", "no such route", 404, "invalid_request_error"),
  /** The path exists but not with this method (the answer carries `Allow`). */
  method_not_allowed: spec("method_not_allowed", "method not allowed", 405, "invalid_request_error"),
  /** The router has no tokenizer yet (no worker has reported its model): 503 with Retry-After. */
  not_ready: spec("not_ready", "the router is not ready: no worker is serving yet", 503, "server_error"),
  /** The body has a Content-Type other than application/json. */
  unsupported_media_type: spec(
    "unsupported_media_type",
    "send the body as application/json",
    415,
    "invalid_request_error",
  ),
});

export type RouterErrorCode = keyof typeof ROUTER_ERRORS;

/** A gateway-only failure (see {@link ROUTER_ERRORS}); shared failures use core's RadixServeError. */
export class RouterError extends Error {
  readonly code: RouterErrorCode;
  readonly spec: ErrorSpec;
  readonly param: string | undefined;

  constructor(code: RouterErrorCode, message?: string, options?: { cause?: unknown; param?: string }) {
    super(
      message ?? ROUTER_ERRORS[code].message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "RouterError";
    this.code = code;
    this.spec = ROUTER_ERRORS[code];
    this.param = options?.param;
  }
}

/** Shorthand for the shared catalog's errors, so call sites read as one line. */
export function fail(
  code: ConstructorParameters<typeof RadixServeError>[0],
  message: string,
  param?: string,
): RadixServeError {
  return new RadixServeError(code, message, param === undefined ? undefined : { param });
}
