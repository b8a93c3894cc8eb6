/**
 * The one error this package throws. `code` uses the engine's catalog names, so a caller that
 * serves models (engine-native) re-throws it as its own error with the same code.
 */
export type GgufErrorCode =
  /** The file is missing, unreadable, truncated or inconsistent. */
  | "model_invalid"
  /** A version, tensor type or value this code does not implement. */
  | "model_unsupported";

export class GgufError extends Error {
  readonly code: GgufErrorCode;

  constructor(code: GgufErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GgufError";
    this.code = code;
  }
}
