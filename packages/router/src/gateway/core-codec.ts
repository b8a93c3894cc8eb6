/**
 * The gateway's TextCodec over @radixserve/core's tokenizer module: prompts and chat templates are
 * encoded on a pool of tokenizer threads (../tokenize/tokenizer-pool.ts, never on the event
 * loop); the incremental detokenizer, token texts and the stop-string matcher (cheap, per token)
 * run here. EOS ids come from generation_config.json. Loaded once per router process.
 */
import {
  IncrementalDetokenizer,
  loadGenerationConfig,
  loadTokenizer,
  type ModelTokenizer,
  StopStringMatcher,
  tokenBytes,
  tokenString,
} from "@radixserve/core";
import { TokenizerPool } from "../tokenize/tokenizer-pool.js";
import type { ChatTurn, IncrementalDecoder, StopMatcher, TextCodec } from "./text-codec.js";

export interface CoreTextCodecOptions {
  /** Tokenizer threads (--tokenizer-threads). */
  threads: number;
}

export class CoreTextCodec implements TextCodec {
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
  private readonly tokenTexts = new Map<number, { text: string; bytes: number[] }>();

  private constructor(
    private readonly tokenizer: ModelTokenizer,
    private readonly pool: TokenizerPool,
    eosTokenIds: readonly number[],
  ) {
    this.eosTokenIds = eosTokenIds;
    this.vocabSize = tokenizer.vocabSize;
  }

  static async load(modelDir: string, opts: CoreTextCodecOptions): Promise<CoreTextCodec> {
    const tokenizer = await loadTokenizer(modelDir);
    const gen = await loadGenerationConfig(modelDir, tokenizer);
    const pool = await TokenizerPool.start(modelDir, { threads: opts.threads });
    return new CoreTextCodec(tokenizer, pool, gen.stopTokenIds);
  }

  encodePrompt(text: string): Promise<number[]> {
    return this.pool.encodePrompt(text);
  }

  get chatTemplate(): string | null {
    return this.tokenizer.chatTemplate;
  }

  encodeChat(messages: ChatTurn[], tools?: readonly unknown[]): Promise<number[]> {
    return this.pool.encodeChat(messages, tools);
  }

  tokenText(tokenId: number): { text: string; bytes: number[] } {
    let t = this.tokenTexts.get(tokenId);
    if (t === undefined) {
      const bytes = tokenBytes(this.tokenizer, tokenId);
      t = { text: tokenString(bytes), bytes: [...bytes] };
      if (this.tokenTexts.size < 100_000) this.tokenTexts.set(tokenId, t);
    }
    return t;
  }

  createDecoder(promptIds: readonly number[]): IncrementalDecoder {
    return new IncrementalDetokenizer(this.tokenizer, { promptIds, skipSpecialTokens: true });
  }

  createStopMatcher(stops: readonly string[]): StopMatcher {
    return new StopStringMatcher(stops);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
