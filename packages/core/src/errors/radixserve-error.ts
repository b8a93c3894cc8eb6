import { ERRORS, type ErrorCode, type ErrorSpec, errorSpec } from "./catalog.js";

/**
 * The one error class of RadixServe. It carries a catalog entry (stable code + statuses) and an
 * optional `cause`. Throw it where a failure is exceptional; on hot paths return
 * `{ ok: false, error }` values instead (see {@link Result}).
 */
export class RadixServeError extends Error {
  readonly code: ErrorCode;
  declare readonly spec: ErrorSpec;
  /** The request parameter at fault, when there is one (OpenAI's `error.param`). */
  readonly param: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; param?: string }) {
    super(
      message ?? ERRORS[code].message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "RadixServeError";
    this.code = code;
    // Not enumerable: the catalog entry is frozen, and loggers (pino's redaction) walk and may mutate the
    // enumerable properties of what they log.
    Object.defineProperty(this, "spec", { value: ERRORS[code], enumerable: false });
    this.param = options?.param;
  }

  get grpcStatus(): number {
    return this.spec.grpcStatus;
  }

  get httpStatus(): number {
    return this.spec.httpStatus;
  }

  /** The wire shape of proto WorkerError. */
  toWorkerError(): { code: string; message: string; httpStatus: number } {
    return { code: this.code, message: this.message, httpStatus: this.spec.httpStatus };
  }

  /** Rebuilds an error received as a WorkerError (unknown codes become `internal`, keeping the message). */
  static fromWorkerError(e: { code: string; message: string }): RadixServeError {
    const spec = errorSpec(e.code);
    return new RadixServeError(spec.code as ErrorCode, e.message || spec.message);
  }
}

/** Wraps anything thrown into a RadixServeError (`internal` unless it already is one). */
export function toRadixServeError(err: unknown): RadixServeError {
  if (err instanceof RadixServeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RadixServeError("internal", message, { cause: err });
}

/** Expected failures on hot paths are values, not throws. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: RadixServeError };
