/**
 * The engine's error catalog: every error the package throws carries one of these stable codes.
 * `httpStatus` / `grpcCode` say what a server should answer when such an error reaches a client.
 */
export const ENGINE_ERRORS = {
  /** A model file is missing, unreadable, corrupt or inconsistent with config.json. */
  model_invalid: { httpStatus: 500, grpcCode: 9 /* FAILED_PRECONDITION */ },
  /** config.json names an architecture or option the engine does not implement. */
  model_unsupported: { httpStatus: 500, grpcCode: 12 /* UNIMPLEMENTED */ },
  /** Options given to loadEngine are out of range. */
  options_invalid: { httpStatus: 500, grpcCode: 3 /* INVALID_ARGUMENT */ },
  /** loadEngine could not put the KV pool in shared memory (kvPoolShmPath); a private pool may still work. */
  kv_pool_shared_failed: { httpStatus: 500, grpcCode: 9 /* FAILED_PRECONDITION */ },
  /** A step / block call got bad arguments (block ids, positions, tokens...). */
  input_invalid: { httpStatus: 400, grpcCode: 3 /* INVALID_ARGUMENT */ },
  /** A grammar (JSON schema, regex, Lark/EBNF) does not compile, or uses a feature the grammar engine lacks. */
  grammar_invalid: { httpStatus: 400, grpcCode: 3 /* INVALID_ARGUMENT */ },
  /** Constrained decoding was asked of an addon built without the grammar engine (llguidance). */
  grammar_unavailable: { httpStatus: 400, grpcCode: 9 /* FAILED_PRECONDITION */ },
  /** The engine was used after free(). */
  engine_freed: { httpStatus: 503, grpcCode: 9 /* FAILED_PRECONDITION */ },
  /** The native side failed (allocation, mmap, a check inside C++). */
  native_failure: { httpStatus: 500, grpcCode: 13 /* INTERNAL */ },
} as const;

export type EngineErrorCode = keyof typeof ENGINE_ERRORS;

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly httpStatus: number;
  readonly grpcCode: number;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EngineError";
    this.code = code;
    this.httpStatus = ENGINE_ERRORS[code].httpStatus;
    this.grpcCode = ENGINE_ERRORS[code].grpcCode;
  }
}
