import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RadixServeError } from "../src/errors/index.js";
import { loadTokenizer } from "../src/tokenizer/tokenizer.js";
import { withModelJson } from "./tokenizer-helpers.js";

const TEXTS = [
  "Hello world!",
  "  leading spaces and trailing  ",
  "naïve café — 世界 你好 🎉🦜 𝄞 龘",
  "line one\nline two\ttabbed",
  "",
];

describe("tokenizer (Llama-style SentencePiece BPE)", () => {
  test("encode/decode round-trips text, with and without BOS", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      assert.equal(tok.vocabSize, 32000);
      assert.equal(tok.bosTokenId, 1);
      assert.equal(tok.eosTokenId, 2);
      assert.deepEqual([...tok.specialTokenIds].sort(), [0, 1, 2]);
      for (const text of TEXTS) {
        const withBos = tok.encode(text);
        const bare = tok.encode(text, { addSpecialTokens: false });
        assert.equal(withBos[0], 1, "BOS is added by default");
        assert.deepEqual(withBos.slice(1), bare);
        assert.equal(tok.decode(bare), text);
        assert.equal(tok.decode(withBos, { skipSpecialTokens: true }), text);
      }
      // Known ids of this vocabulary: "▁Hello" and the bare "▁".
      assert.deepEqual(tok.encode("Hello", { addSpecialTokens: false }), [22557]);
    });
  });

  test("special tokens in text are recognised and can be skipped when decoding", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      const ids = tok.encode("</s>hi", { addSpecialTokens: false });
      assert.equal(ids[0], 2);
      assert.equal(
        tok.decode([1, ...tok.encode("hi", { addSpecialTokens: false }), 2], { skipSpecialTokens: true }),
        "hi",
      );
      assert.match(tok.decode([1, 2]), /<s>.*<\/s>/);
    });
  });

  test("added ChatML tokens (ids past the base vocabulary) encode as single special tokens", async () => {
    await withModelJson("tiny-qwen2", async (dir) => {
      const tok = await loadTokenizer(dir);
      assert.equal(tok.vocabSize, 32002);
      assert.equal(tok.bosTokenId, null, "ChatML models add no BOS");
      assert.equal(tok.eosTokenId, 32001);
      const ids = tok.encode("<|im_start|>user\nhi<|im_end|>");
      assert.equal(ids[0], 32000);
      assert.equal(ids.at(-1), 32001);
      assert.ok(tok.specialTokenIds.has(32000) && tok.specialTokenIds.has(32001));
    });
  });

  test("bad input and broken model directories give clear errors", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      assert.throws(
        () => tok.decode([5, 40000]),
        (e: unknown) => {
          assert.ok(e instanceof RadixServeError);
          assert.equal(e.code, "invalid_request");
          assert.match(e.message, /token id 40000 is not in the vocabulary/);
          return true;
        },
      );
      assert.throws(() => tok.decode([-1]), /token id -1/);
      assert.throws(() => tok.encode(42 as unknown as string), /must be a string/);
      await assert.rejects(loadTokenizer(join(dir, "missing")), /has no tokenizer\.json/);
      await writeFile(join(dir, "tokenizer.json"), "{ not json");
      await assert.rejects(loadTokenizer(dir), /tokenizer\.json is not valid JSON/);
    });
  });
});
