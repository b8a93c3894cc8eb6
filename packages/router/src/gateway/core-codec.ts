/**
 * The gateway's TextCodec over @radixserve/core's tokenizer module: tokenizer.json through
 * ModelTokenizer, the chat template of tokenizer_config.json, EOS ids from generation_config.json,
 * the incremental detokenizer and the stop-string matcher. Loaded once per router process.
 */
import {
  type ChatMessage,
  ChatTemplate,
  IncrementalDetokenizer,
  loadGenerationConfig,
  loadTokenizer,
  type ModelTokenizer,
  StopStringMatcher,
  tokenBytes,
  tokenString,
} from "@radixserve/core";
import type { ChatTurn, IncrementalDecoder, StopMatcher, TextCodec } from "./text-codec.js";

export class CoreTextCodec implements TextCodec {
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
  private template: ChatTemplate | null = null;
  private readonly tokenTexts = new Map<number, { text: string; bytes: number[] }>();

  private constructor(
    private readonly tokenizer: ModelTokenizer,
    eosTokenIds: readonly number[],
  ) {
    this.eosTokenIds = eosTokenIds;
    this.vocabSize = tokenizer.vocabSize;
  }

  static async load(modelDir: string): Promise<CoreTextCodec> {
    const tokenizer = await loadTokenizer(modelDir);
    const gen = await loadGenerationConfig(modelDir, tokenizer);
    return new CoreTextCodec(tokenizer, gen.stopTokenIds);
  }

  encodePrompt(text: string): number[] {
    return this.tokenizer.encode(text, { addSpecialTokens: true });
  }

  get chatTemplate(): string | null {
    return this.tokenizer.chatTemplate;
  }

  encodeChat(messages: ChatTurn[], tools?: readonly unknown[]): number[] {
    // Built on first use so a model without a chat template still serves /v1/completions.
    this.template ??= ChatTemplate.fromTokenizer(this.tokenizer);
    // OpenAI's "developer" role is the newer name of "system".
    const msgs: ChatMessage[] = messages.map((m) => ({
      role: m.role === "developer" ? "system" : m.role,
      content: m.content,
      toolCalls: m.toolCalls,
      toolCallId: m.toolCallId,
    }));
    const text = this.template.render(msgs, {
      addGenerationPrompt: true,
      ...(tools ? { extra: { tools } } : {}),
    });
    // The template writes BOS itself when the model wants one; do not add it twice.
    return this.tokenizer.encode(text, { addSpecialTokens: false });
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
}
