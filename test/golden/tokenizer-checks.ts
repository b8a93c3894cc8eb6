// The checks a tokenizer fixture asks for, shared by the tokenizer.json and GGUF golden tests:
// every text's ids (with and without special tokens) and decodes (with and without them).
import assert from "node:assert/strict";
import type { ModelTokenizer } from "@radixserve/core";

export interface TextCase {
  text: string;
  ids: number[];
  ids_no_special: number[];
  decoded: string;
  decoded_skip_special: string;
}

export function checkEncode(tok: ModelTokenizer, texts: readonly TextCase[]): void {
  for (const t of texts) {
    assert.deepEqual(tok.encode(t.text), t.ids, JSON.stringify(t.text));
    assert.deepEqual(
      tok.encode(t.text, { addSpecialTokens: false }),
      t.ids_no_special,
      JSON.stringify(t.text),
    );
  }
}

export function checkDecode(tok: ModelTokenizer, texts: readonly TextCase[]): void {
  for (const t of texts) {
    assert.equal(tok.decode(t.ids), t.decoded, JSON.stringify(t.text));
    assert.equal(
      tok.decode(t.ids, { skipSpecialTokens: true }),
      t.decoded_skip_special,
      JSON.stringify(t.text),
    );
  }
}
