/**
 * Typed errors for what the server answers (its OpenAI-style error body: message, type, code,
 * param) and for a server that cannot be reached. Catch `RadixServeClientError` for all of them.
 */

/** The JSON error body RadixServe answers with. */
export interface ErrorBody {
  error?: {
    message?: string;
    type?: string;
    code?: string | null;
    param?: string | null;
    request_id?: string;
  };
}

export class RadixServeClientError extends Error {
  override name = "RadixServeClientError";
  constructor(
    message: string,
    /** HTTP status (0 when no answer came back). */
    readonly status: number,
    /** The server's stable error code, e.g. "invalid_request", "queue_full". */
    readonly code: string | null = null,
    /** The request field at fault, e.g. "sampling_params.regex". */
    readonly param: string | null = null,
    /** The server's request id (x-request-id), for its logs. */
    readonly requestId: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** 400: the request is wrong (a field out of range, unknown, or not supported). */
export class InvalidRequestError extends RadixServeClientError {
  override name = "InvalidRequestError";
}
/** 401 / 403: no or a wrong API key. */
export class AuthenticationError extends RadixServeClientError {
  override name = "AuthenticationError";
}
/** 429: the server's queue is full; retry later. */
export class RateLimitError extends RadixServeClientError {
  override name = "RateLimitError";
}
/** 5xx: the server or its workers failed (503: not ready or no worker). */
export class ServerError extends RadixServeClientError {
  override name = "ServerError";
}
/** The server could not be reached, or the connection broke. */
export class ConnectionError extends RadixServeClientError {
  override name = "ConnectionError";
}

/** The typed error for an HTTP status and error body. */
export function errorFromResponse(
  status: number,
  body: ErrorBody | null,
  requestId: string | null,
): RadixServeClientError {
  const e = body?.error;
  const message = e?.message ?? `HTTP ${status}`;
  const args = [message, status, e?.code ?? null, e?.param ?? null, e?.request_id ?? requestId] as const;
  if (status === 401 || status === 403) return new AuthenticationError(...args);
  if (status === 429) return new RateLimitError(...args);
  if (status >= 500) return new ServerError(...args);
  return new InvalidRequestError(...args);
}
