/**
 * Streaming detokenization without broken UTF-8 (vLLM's `detokenize_incrementally`).
 *
 * Decoding token by token is wrong twice over: SentencePiece decoders drop or add the leading
 * space depending on where a decode starts, and byte-fallback / byte-level tokens may carry
 * only part of a multi-byte character (decoded alone they give U+FFFD). So we keep two offsets
 * into the token list: text is decoded over the window [prefixOffset, end) and compared with
 * the decode of [prefixOffset, readOffset); the difference is new text. While the window's
 * text ends in U+FFFD (an incomplete character) nothing is emitted and the offsets stay, so
 * the bytes are emitted once the character completes. After each emission the window slides,
 * so the cost per token is O(window), not O(sequence).
 */
import type { ModelTokenizer } from "./tokenizer.js";

const REPLACEMENT = "\uFFFD";
/** Prompt tokens kept as left context, so the first output token decodes with its real spacing. */
const PROMPT_CONTEXT = 5;

export interface IncrementalDetokenizerOptions {
  /** Prompt ids: the last few give the first generated token its left context. */
  promptIds?: ArrayLike<number>;
  skipSpecialTokens?: boolean;
}

export class IncrementalDetokenizer {
  private readonly ids: number[];
  private prefixOffset: number;
  private readOffset: number;
  private readonly skipSpecialTokens: boolean;

  constructor(
    private readonly tokenizer: ModelTokenizer,
    opts: IncrementalDetokenizerOptions = {},
  ) {
    const prompt = opts.promptIds ? Array.from(opts.promptIds) : [];
    this.ids = prompt.slice(Math.max(0, prompt.length - PROMPT_CONTEXT));
    this.prefixOffset = 0;
    this.readOffset = this.ids.length;
    this.skipSpecialTokens = opts.skipSpecialTokens ?? true;
  }

  /** Adds generated token(s); returns the text that is now final (possibly ""). */
  push(tokens: number | ArrayLike<number>): string {
    if (typeof tokens === "number") this.ids.push(tokens);
    else for (let i = 0; i < tokens.length; i++) this.ids.push(tokens[i]!);
    return this.emit(false);
  }

  /** End of stream: returns any held-back text, incomplete characters included (as U+FFFD). */
  flush(): string {
    return this.emit(true);
  }

  private emit(final: boolean): string {
    if (this.readOffset >= this.ids.length) return "";
    const opts = { skipSpecialTokens: this.skipSpecialTokens };
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const newText = this.tokenizer.decode(this.ids.slice(this.prefixOffset), opts);
    if (!final && (newText.length <= prefixText.length || newText.endsWith(REPLACEMENT))) return "";
    const delta = newText.slice(prefixText.length);
    // Drop consumed context so ids never grows without bound: the new window starts at readOffset.
    const keepFrom = this.readOffset;
    this.ids.splice(0, keepFrom);
    this.prefixOffset = 0;
    this.readOffset = this.ids.length;
    return delta;
  }
}
