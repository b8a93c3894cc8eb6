import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tokenBytes, tokenString } from "../src/tokenizer/token-bytes.js";
import { loadTokenizer } from "../src/tokenizer/tokenizer.js";
import { withModelJson } from "./tokenizer-helpers.js";

const TEXTS = ["Hello world!", "  two leading spaces", "naïve café — 世界 🎉", "line one\nline two\ttab"];
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

function joined(bytes: Uint8Array[]): number[] {
  return bytes.flatMap((b) => [...b]);
}

/** A byte-level BPE tokenizer.json (GPT-2 alphabet, one token per byte) plus one added token. */
function byteLevelTokenizerJson() {
  const printable = [
    ...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => 0x21 + i),
    ...Array.from({ length: 0xac - 0xa1 + 1 }, (_, i) => 0xa1 + i),
    ...Array.from({ length: 0xff - 0xae + 1 }, (_, i) => 0xae + i),
  ];
  const vocab: Record<string, number> = {};
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const cp = printable.includes(b) ? b : 256 + shifted++;
    vocab[String.fromCodePoint(cp)] = b;
  }
  return {
    version: "1.0",
    added_tokens: [
      {
        id: 256,
        content: "<|end|>",
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
}

describe("token bytes (the logprobs `token` and `bytes` of one token)", () => {
  test("SentencePiece vocabulary: the leading space of ▁ pieces is kept, byte tokens are their byte", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      for (const text of TEXTS) {
        const ids = tok.encode(text, { addSpecialTokens: false });
        const bytes = ids.map((id) => tokenBytes(tok, id));
        // The Llama normalizer prepends one space (▁) to the text; every other byte is the text's.
        assert.deepEqual(joined(bytes), utf8(` ${text}`), text);
      }
      const hello = tok.encode("Hello", { addSpecialTokens: false });
      assert.equal(tokenString(tokenBytes(tok, hello[0]!)), " Hello");
      // <0x0A> is the newline byte; BOS is its literal text.
      assert.deepEqual([...tokenBytes(tok, tok.tokenToId("<0x0A>")!)], [10]);
      assert.equal(tokenString(tokenBytes(tok, 1)), "<s>");
    });
  });

  test("byte-level vocabulary: every byte exact, partial UTF-8 spelled as bytes:\\xNN", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rs-tok-bytelevel-"));
    try {
      await writeFile(join(dir, "tokenizer.json"), JSON.stringify(byteLevelTokenizerJson()));
      const tok = await loadTokenizer(dir);
      for (const text of TEXTS) {
        const ids = tok.encode(text, { addSpecialTokens: false });
        assert.deepEqual(joined(ids.map((id) => tokenBytes(tok, id))), utf8(text), text);
      }
      const [first] = tok.encode("é", { addSpecialTokens: false });
      assert.deepEqual([...tokenBytes(tok, first!)], [0xc3]);
      assert.equal(tokenString(tokenBytes(tok, first!)), "bytes:\\xc3");
      assert.equal(tokenString(tokenBytes(tok, tok.tokenToId("Ġ")!)), " ");
      assert.equal(tokenString(tokenBytes(tok, 256)), "<|end|>");
      assert.equal(tokenBytes(tok, 99_999).length, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
