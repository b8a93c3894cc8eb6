/**
 * Per-request limits the gateway enforces before any work is queued, so that no single request
 * can take the router or the workers from everyone else:
 *   maxPromptChars   characters (UTF-16 code units) of all prompts or message contents of one
 *                    request together, checked before tokenizing. Default 400,000
 *                    (--max-prompt-chars; ~100k tokens of English). Tokenizers without a
 *                    pre-tokenizer (SentencePiece-style BPE, like the default tiny model's) are
 *                    superlinear in the length of one text: 100k characters take ~1.4 s of one
 *                    thread here, 200k ~4.6 s, 1M ~37 s; lower it for such a model.
 *   maxPromptTokens  tokens of all prompts of one request together (token-id prompts included),
 *                    checked after tokenizing. Default 262,144 (--max-prompt-tokens).
 *   maxChoices       prompts x n of one request (each choice is a generation of its own on a
 *                    worker). Default 128 (--max-choices-per-request).
 * Each refusal is a 400 invalid_request that names the parameter, the size and the limit.
 *
 * Text is taken as given, with one repair on purpose: a lone UTF-16 surrogate (valid in JSON as
 * an escape, but no character) becomes U+FFFD before it reaches the tokenizer, as bytes that are
 * not UTF-8 would in a decoder. A body whose bytes are not UTF-8 at all is refused (400) where it
 * is parsed (./server.ts).
 */
import { RadixServeError } from "@radixserve/core";

export interface RequestLimits {
  maxPromptChars: number;
  maxPromptTokens: number;
  maxChoices: number;
}

export const DEFAULT_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxPromptChars: 400_000,
  maxPromptTokens: 262_144,
  maxChoices: 128,
});

/** Fills in the defaults and checks the ranges; throws a clear Error on a bad value. */
export function requestLimits(partial: Partial<RequestLimits> = {}): RequestLimits {
  const l = { ...DEFAULT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l))
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`${k} must be a positive integer, got ${v}`);
  return l;
}

/** ES2024 string methods (in Node 20; the TypeScript lib here is older). */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/** A string without lone surrogates (each becomes U+FFFD). */
export function wellFormed(s: string): string {
  const w = s as unknown as WellFormedString;
  return w.isWellFormed() ? s : w.toWellFormed();
}

export function checkChoices(prompts: number, n: number, limits: RequestLimits): void {
  const choices = prompts * n;
  if (choices > limits.maxChoices) {
    throw new RadixServeError(
      "invalid_request",
      `This request asks for ${choices} choices (${prompts} prompt(s) x n=${n}); ` +
        `this server allows at most ${limits.maxChoices} per request.`,
      { param: prompts > 1 ? "prompt" : "n" },
    );
  }
}

export function checkChars(chars: number, limits: RequestLimits, param: string): void {
  if (chars > limits.maxPromptChars) {
    throw new RadixServeError(
      "invalid_request",
      `The prompt has ${chars} characters; this server accepts at most ${limits.maxPromptChars} per request.`,
      { param },
    );
  }
}

export function checkTokens(tokens: number, limits: RequestLimits, param: string): void {
  if (tokens > limits.maxPromptTokens) {
    throw new RadixServeError(
      "invalid_request",
      `The prompt has ${tokens} tokens; this server accepts at most ${limits.maxPromptTokens} per request.`,
      { param },
    );
  }
}
