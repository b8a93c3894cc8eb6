/**
 * A byte-level TextCodec for the gateway's unit tests: token id = byte value (vocabulary 256),
 * id 0 is EOS. The chat "template" is `role: content\n` per message plus `assistant: `.
 */

import { StopStringMatcher } from "@radixserve/core";
import type { ChatTurn, IncrementalDecoder, StopMatcher, TextCodec } from "../src/gateway/text-codec.js";

export class FakeCodec implements TextCodec {
  readonly eosTokenIds = [0];
  readonly vocabSize = 256;

  encodePrompt(text: string): Promise<number[]> {
    return Promise.resolve(this.bytes(text));
  }

  private bytes(text: string): number[] {
    return [...Buffer.from(text, "utf8")];
  }

  /** Names the hermes marker and renders `tools` (as `tools: name,name`), like a tool-aware template. */
  readonly chatTemplate = "{{ tools }} <tool_call>";

  async encodeChat(messages: ChatTurn[], tools?: readonly unknown[]): Promise<number[]> {
    if (messages.at(-1)?.role === "assistant")
      throw new Error("the last message must not be the assistant's");
    const text = messages
      .map(
        (m) =>
          `${m.role}: ${typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join("\n")}\n`,
      )
      .join("");
    const names = (tools ?? []).map((t) => (t as { function: { name: string } }).function.name);
    return this.bytes(`${names.length ? `tools: ${names.join(",")}\n` : ""}${text}assistant: `);
  }

  tokenText(id: number): { text: string; bytes: number[] } {
    return { text: String.fromCharCode(id), bytes: [id] };
  }

  createDecoder(): IncrementalDecoder {
    return { push: (id) => String.fromCharCode(id), flush: () => "" };
  }

  createStopMatcher(stops: readonly string[]): StopMatcher {
    return new StopStringMatcher(stops);
  }
}
