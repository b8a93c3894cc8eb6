/**
 * Grammar-constrained decoding through llguidance (linked into the addon when the build could make
 * it; see scripts/build-llguidance.mjs). One GrammarTokenizer per model, built once from the
 * vocabulary's bytes; grammars (JSON schema, regex, Lark/EBNF) compiled once per source and cached;
 * one GrammarMatcher per constrained sequence, a clone of the compiled grammar's matcher.
 *
 * Per step: `mask()` gives the next-token bitset (SamplingParams.allowedTokens' layout), the
 * sampled token goes to `accept()`, and `stopped` ends the sequence once the grammar is done.
 */
import { EngineError } from "./errors.js";
import { nativeAddon } from "./native.js";

type Handle = { readonly __brand: "radixserve-grammar" };

/** What the addon exports when it was linked with llguidance. */
export interface NativeGrammar {
  grammarAvailable: boolean;
  grammarTokenizer?(o: { tokenLens: Uint32Array; tokenBytes: Uint8Array; eos: number }): Handle;
  grammarMatcher?(tokenizer: Handle, kind: string, source: string): Handle;
  grammarClone?(m: Handle): Handle;
  grammarMask?(m: Handle, out: Uint32Array): void;
  grammarMaskBytes?(m: Handle): number;
  grammarConsume?(m: Handle, token: number): void;
  grammarForced?(m: Handle): Uint32Array;
  grammarStopped?(m: Handle): boolean;
  grammarAccepting?(m: Handle): boolean;
}

/** The grammar languages: a JSON schema (as JSON text), a regex (full match), a Lark/EBNF grammar. */
export type GrammarKind = "json_schema" | "regex" | "lark";

/** The vocabulary as the grammar engine sees it: each token's exact bytes. */
export interface GrammarVocabulary {
  /** Number of token ids (the model's logits rows; ids past the tokenizer's get no bytes). */
  size: number;
  eos: number;
  bytes(id: number): Uint8Array;
  /** Special tokens are never produced by a grammar's text. */
  special(id: number): boolean;
}

function grammarAddon(): Required<NativeGrammar> {
  const a = nativeAddon() as unknown as NativeGrammar;
  if (!a.grammarAvailable)
    throw new EngineError(
      "grammar_unavailable",
      "constrained decoding is unavailable: the engine was built without llguidance (npm run build says why)",
    );
  return a as Required<NativeGrammar>;
}

/** Whether the addon was linked with the grammar engine. */
export function grammarAvailable(): boolean {
  return (nativeAddon() as unknown as NativeGrammar).grammarAvailable;
}

const utf8 = new TextEncoder();
const SPECIAL_PREFIX = 0xff;

export class GrammarTokenizer {
  private readonly handle: Handle;
  private readonly cache = new Map<string, Grammar>();

  constructor(vocab: GrammarVocabulary) {
    const pieces: Uint8Array[] = [];
    for (let id = 0; id < vocab.size; id++) {
      let b = vocab.bytes(id);
      // Special tokens, and ids with no bytes (padding rows), are spelled as llguidance's special
      // tokens: 0xFF then a name, so no grammar text ever matches them.
      if (vocab.special(id) || b.length === 0) {
        const name = b.length === 0 ? utf8.encode(`<unused_${id}>`) : b;
        b = new Uint8Array(name.length + 1);
        b[0] = SPECIAL_PREFIX;
        b.set(name, 1);
      }
      pieces.push(b);
    }
    const lens = Uint32Array.from(pieces, (p) => p.length);
    const bytes = new Uint8Array(lens.reduce((s, n) => s + n, 0));
    let o = 0;
    for (const p of pieces) {
      bytes.set(p, o);
      o += p.length;
    }
    this.handle = grammarAddon().grammarTokenizer({ tokenLens: lens, tokenBytes: bytes, eos: vocab.eos });
  }

  /**
   * The compiled grammar for (kind, source), compiled on first use and cached. An invalid grammar
   * or an unsupported schema keyword throws grammar_invalid with llguidance's message.
   */
  compile(kind: GrammarKind, source: string): Grammar {
    const key = `${kind}\0${source}`;
    let g = this.cache.get(key);
    if (g === undefined) {
      let h: Handle;
      try {
        h = grammarAddon().grammarMatcher(this.handle, kind, source);
      } catch (e) {
        throw new EngineError("grammar_invalid", `${kind}: ${(e as Error).message}`);
      }
      g = new Grammar(h, this);
      this.cache.set(key, g);
    }
    return g;
  }

  /** Compiled grammars held (for the cache's tests and metrics). */
  get cachedGrammars(): number {
    return this.cache.size;
  }
}

export class Grammar {
  /** @internal */
  constructor(
    private readonly proto: Handle,
    private readonly tokenizer: GrammarTokenizer,
  ) {}

  /** A fresh matcher at the grammar's start (a clone: no recompilation). */
  matcher(): GrammarMatcher {
    return new GrammarMatcher(grammarAddon().grammarClone(this.proto), this.tokenizer);
  }
}

export class GrammarMatcher {
  private readonly words: Uint32Array;

  /** @internal */
  constructor(
    private readonly handle: Handle,
    // Holds the tokenizer alive for as long as the matcher.
    readonly tokenizer: GrammarTokenizer,
  ) {
    this.words = new Uint32Array(grammarAddon().grammarMaskBytes(handle) / 4);
  }

  /** The next-token mask (one bit per token id); the same buffer each call. */
  mask(): Uint32Array {
    grammarAddon().grammarMask(this.handle, this.words);
    return this.words;
  }

  /** Advances past a sampled token; a token the grammar does not allow throws. */
  accept(token: number): void {
    grammarAddon().grammarConsume(this.handle, token);
  }

  /** The tokens the grammar forces next (jump-forward candidates); none consumed. */
  forced(): Uint32Array {
    return grammarAddon().grammarForced(this.handle);
  }

  /** The grammar is done: only the end of the sequence may follow (or it has already come). */
  get stopped(): boolean {
    return grammarAddon().grammarStopped(this.handle);
  }

  /** What has been accepted so far is a complete match. */
  get accepting(): boolean {
    return grammarAddon().grammarAccepting(this.handle);
  }
}
