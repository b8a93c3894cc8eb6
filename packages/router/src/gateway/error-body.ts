/**
 * The ONE place where any failure becomes OpenAI's error body
 * `{"error":{"message","type","param","code"}}` and an HTTP status.
 *
 * Inputs: the shared catalog's RadixServeError (also what a worker's WorkerError is rebuilt into),
 * the router's RouterError, zod validation errors (the first issue names the parameter), fastify's
 * body-parsing errors (malformed JSON, body too large, wrong content type) and anything else
 * (a 500 whose body hides internals; the cause is logged by the caller).
 */
import { ERRORS, type ErrorSpec, RadixServeError } from "@radixserve/core";
import { ZodError } from "zod";
import { ROUTER_ERRORS, RouterError } from "../errors.js";

export interface OpenAIErrorBody {
  error: { message: string; type: ErrorSpec["type"]; param: string | null; code: string };
}

export interface HttpError {
  status: number;
  body: OpenAIErrorBody;
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

/** Turns any thrown value into the status and OpenAI body the client receives. */
export function toHttpError(err: unknown): HttpError {
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
