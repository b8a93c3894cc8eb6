/**
 * What the gateway needs from a tokenizer: prompts and chats to token ids (once, here), token ids
 * back to text incrementally for streaming, and stop-string matching over that text.
 * The implementation (./core-codec.ts) adapts @radixserve/core's tokenizer module; unit tests use
 * a small fake. Nothing else in the gateway touches a tokenizer.
 */

export interface ChatTurn {
  role: "system" | "developer" | "user" | "assistant" | "tool";
  /** null only for an assistant turn that holds tool calls alone. */
  content: string | { type: "text"; text: string }[] | null;
  /** Assistant turns: the calls it made (`arguments` as JSON text). */
  toolCalls?: { id: string; type: "function"; function: { name: string; arguments: string } }[] | undefined;
  /** Tool turns: the id of the call this message answers. */
  toolCallId?: string | undefined;
}

/** Streaming detokenizer: push ids one at a time, get the text that became final. */
export interface IncrementalDecoder {
  /** Returns the new text this token completes ("" while a UTF-8 sequence is still open). */
  push(tokenId: number): string;
  /** Text still held back at the end of the sequence. */
  flush(): string;
}

/** Result of feeding text to a stop matcher. */
export interface StopMatch {
  /** Text that is now safe to emit (never a part of a stop string). */
  text: string;
  /** True when a stop string matched; `text` ends right before it and later input is ignored. */
  stopped: boolean;
}

/** Holds back text that could be the start of a stop string; cuts at the first full match. */
export interface StopMatcher {
  push(text: string): StopMatch;
  /** End of stream: releases the held-back tail (no stop matched). */
  flush(): string;
}

export interface TextCodec {
  /**
   * Token ids of a plain completion prompt (with BOS when the tokenizer config adds it).
   * Asynchronous: the real codec tokenizes on worker threads, never on the event loop.
   */
  encodePrompt(text: string): Promise<number[]>;
  /**
   * Renders the model's chat template with the generation prompt (and `tools`, OpenAI's tool
   * definitions, as the template's `tools` variable) and tokenizes it (off the event loop).
   * Rejects with an Error whose message explains what is wrong with the conversation.
   */
  encodeChat(messages: ChatTurn[], tools?: readonly unknown[]): Promise<number[]>;
  /** The chat template's source (null when the model has none): tool-call formats are read off it. */
  readonly chatTemplate: string | null;
  /**
   * One token on its own, exactly (the `token` and `bytes` fields of logprobs): its bytes (a
   * leading space kept, part of a UTF-8 character possible) and their text (`bytes:\xNN` when
   * they are not whole UTF-8).
   */
  tokenText(tokenId: number): { text: string; bytes: number[] };
  /** A detokenizer for one choice; the prompt's last ids give the first token its spacing. */
  createDecoder(promptIds: readonly number[]): IncrementalDecoder;
  createStopMatcher(stops: readonly string[]): StopMatcher;
  /** Token ids that end generation unless ignore_eos (the worker knows them too). */
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
  /** Stops the codec's threads (router shutdown). */
  close?(): Promise<void>;
}
