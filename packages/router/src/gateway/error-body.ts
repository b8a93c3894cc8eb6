/**
 * The ONE place where any failure becomes OpenAI's error body
 * `{"error":{"message","type","param","code"}}` and an HTTP status.
 *
 * Inputs: the shared catalog's RadixServeError (also what a worker's WorkerError is rebuilt into),
 * the router's RouterError, zod validation errors (the first issue names the parameter), fastify's
 * body-parsing errors (malformed JSON, body too large, wrong content type) and anything else
 * (a 500 whose body hides internals; the cause is logged by the caller).
 *
 * What a client may see: for a 4xx the message says what is wrong with the request; for a 429 or
 * 5xx it is the catalog's public sentence only, because the detail of those (worker addresses,
 * gRPC errors, file paths) is about the cluster, not the request. The detail goes to the log under
 * the request id, which the body carries as `error.request_id` (and the `x-request-id` header).
 * 429 and 503 carry `Retry-After` (seconds).
 */
import { ERRORS, type ErrorSpec, RadixServeError } from "@radixserve/core";
import { ZodError } from "zod";
import { ROUTER_ERRORS, RouterError } from "../errors.js";

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: ErrorSpec["type"];
    param: string | null;
    code: string;
    /** The id the router logged this failure under (also the `x-request-id` header). */
    request_id?: string;
  };
}

export interface HttpError {
  status: number;
  body: OpenAIErrorBody;
  /** Seconds for `Retry-After` (429 and 503 only). */
  retryAfterS?: number;
}

/** Retry-After of a 429 (the client backs off briefly) and of a 503 (no worker: a probe period). */
export const RETRY_AFTER_BUSY_S = 1;
export const RETRY_AFTER_UNAVAILABLE_S = 5;

/** What a client reads for failures whose detail is about the cluster, by status. */
function publicMessage(status: number): string {
  switch (status) {
    case 429:
      return "The server is at capacity; retry later.";
    case 503:
      return "No worker can take this request right now; retry later.";
    case 504:
      return "The request did not finish before its deadline.";
    default:
      return "The server had an internal error.";
  }
}

function make(spec: ErrorSpec, message: string, param: string | null | undefined): HttpError {
  return {
    status: spec.httpStatus,
    body: { error: { message, type: spec.type, param: param ?? null, code: spec.code } },
  };
}

/** `["messages", 0, "content"]` → `messages[0].content` (the way OpenAI names nested params). */
export function paramPath(path: readonly PropertyKey[]): string | null {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? null : out;
}

function fromZod(err: ZodError): HttpError {
  const issue = err.issues[0];
  if (!issue) return make(ERRORS.invalid_request, "Invalid request body.", null);
  const param = paramPath(issue.path);
  const what = param === null ? "request body" : `'${param}'`;
  return make(ERRORS.invalid_request, `Invalid ${what}: ${issue.message}`, param);
}

/** fastify's own errors carry a string `code` (FST_ERR_...) and a `statusCode`. */
function fromFastify(code: string, message: string): HttpError | null {
  switch (code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return make(
        ROUTER_ERRORS.invalid_json,
        "We could not parse the JSON body of your request: it must be a valid, non-empty JSON object.",
        null,
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return make(ERRORS.payload_too_large, `The request body is too large (${message}).`, null);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return make(
        ROUTER_ERRORS.unsupported_media_type,
        "Unsupported Content-Type: send application/json.",
        null,
      );
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return make(ERRORS.invalid_request, message, null);
    default:
      return null;
  }
}

/**
 * Turns any thrown value into the status and OpenAI body the client receives, with internals
 * removed and `requestId` attached (see the header of this file).
 */
export function toHttpError(err: unknown, requestId?: string): HttpError {
  const e = classify(err);
  const status = e.status;
  if (status === 429 || status >= 500) {
    // 501 names the unsupported feature; not_ready's sentence is already public.
    const keep = status === 501 || e.body.error.code === "not_ready";
    if (!keep) e.body.error.message = publicMessage(status);
  }
  if (status === 429) e.retryAfterS = RETRY_AFTER_BUSY_S;
  if (status === 503) e.retryAfterS = RETRY_AFTER_UNAVAILABLE_S;
  if (requestId !== undefined) e.body.error.request_id = requestId;
  return e;
}

function classify(err: unknown): HttpError {
  if (err instanceof RadixServeError || err instanceof RouterError)
    return make(err.spec, err.message, err.param);
  if (err instanceof ZodError) return fromZod(err);
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    const mapped = fromFastify(err.code, err.message);
    if (mapped) return mapped;
  }
  const status =
    err && typeof err === "object" && "statusCode" in err && typeof err.statusCode === "number"
      ? err.statusCode
      : 500;
  if (status >= 400 && status < 500) {
    const message = err instanceof Error ? err.message : "Bad request.";
    return { ...make(ERRORS.invalid_request, message, null), status };
  }
  return make(ERRORS.internal, "The server had an internal error.", null);
}
