/**
 * Constrained decoding in the worker: one llguidance tokenizer per model, built once at start from
 * the vocabulary's exact bytes, and per constrained request a matcher of its grammar (compiled once
 * per source, then cloned). Without the grammar engine (an addon built without llguidance, or a
 * model whose tokenizer cannot be read), every constrained request is refused with a 400 saying why.
 */
import type { Constraint__Output } from "@radixserve/core";
import { getLogger, loadTokenizer, RadixServeError, tokenBytes } from "@radixserve/core";
import { EngineError, type GrammarKind, GrammarTokenizer, grammarAvailable } from "@radixserve/engine-native";
import type { TokenConstraint } from "./scheduler/index.js";

const KINDS: readonly string[] = ["json_schema", "regex", "lark"] satisfies GrammarKind[];

/** Turns a request's constraint into its matcher; a RadixServeError (400) when it cannot. */
export type ConstraintCompiler = (c: Constraint__Output) => TokenConstraint | RadixServeError;

/** The compiler of a model (vocabSize: the engine's logits rows; eosTokenIds: the worker's stops). */
export async function grammarCompiler(
  modelPath: string,
  vocabSize: number,
  eosTokenIds: readonly number[],
): Promise<ConstraintCompiler> {
  const unavailable = (why: string): ConstraintCompiler => {
    getLogger("grammar").warn({ reason: why }, "constrained decoding unavailable");
    return () =>
      new RadixServeError("invalid_request", `constrained decoding is unavailable on this worker: ${why}`, {
        param: "constraint",
      });
  };
  if (!grammarAvailable())
    return unavailable("the engine was built without llguidance (npm run build says why)");
  let tokenizer: GrammarTokenizer;
  try {
    const tok = await loadTokenizer(modelPath);
    const eos = tok.eosTokenId ?? eosTokenIds[0];
    if (eos === undefined) return unavailable("the model has no end-of-sequence token");
    tokenizer = new GrammarTokenizer({
      size: vocabSize,
      eos,
      bytes: (id) => (id < tok.vocabSize ? tokenBytes(tok, id) : new Uint8Array(0)),
      special: (id) => id < tok.vocabSize && tok.isAddedToken(id),
    });
  } catch (e) {
    return unavailable(`the model's tokenizer could not be read (${(e as Error).message})`);
  }
  return (c) => {
    if (!KINDS.includes(c.kind))
      return new RadixServeError("invalid_request", `unknown constraint kind '${c.kind}'`, {
        param: "constraint",
      });
    try {
      return tokenizer.compile(c.kind as GrammarKind, c.source).matcher();
    } catch (e) {
      if (e instanceof EngineError && e.code === "grammar_invalid")
        return new RadixServeError("invalid_request", e.message.replace(/^lark:/, "ebnf:"), {
          param: c.kind === "lark" ? "ebnf" : c.kind,
        });
      throw e;
    }
  };
}
