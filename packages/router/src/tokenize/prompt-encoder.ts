/**
 * Prompt text to token ids with the model's own tokenizer and chat template: what the router's
 * tokenizer threads run (./tokenize-thread.ts). Synchronous and CPU-bound by nature, which is why
 * it never runs on the router's event loop.
 */
import { type ChatMessage, ChatTemplate, loadTokenizer, type ModelTokenizer } from "@radixserve/core";
import type { ChatTurn } from "../gateway/text-codec.js";

export class PromptEncoder {
  private template: ChatTemplate | null = null;

  private constructor(private readonly tokenizer: ModelTokenizer) {}

  static async load(modelDir: string): Promise<PromptEncoder> {
    return new PromptEncoder(await loadTokenizer(modelDir));
  }

  /** Token ids of a plain completion prompt (with BOS when the tokenizer config adds it). */
  encodePrompt(text: string): number[] {
    return this.tokenizer.encode(text, { addSpecialTokens: true });
  }

  /** Renders the chat template (with `tools` when given) and the generation prompt, and tokenizes the result. */
  encodeChat(messages: readonly ChatTurn[], tools?: readonly unknown[]): number[] {
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
}
