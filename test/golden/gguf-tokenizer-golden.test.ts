/**
 * The tokenizer built from a GGUF's metadata against transformers' tokenizer for the same GGUF
 * (`AutoTokenizer.from_pretrained(dir, gguf_file=...)`, fixture by tools/oracle/gguf_golden.py):
 * the default model SmolLM2-135M-Instruct (byte-level BPE, pre-tokenizer "smollm", ChatML template
 * in `tokenizer.chat_template`). Ids with and without special tokens and decodes over a varied
 * corpus, and the chat prompts' text and ids, must be identical.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import {
  type ChatMessage,
  ChatTemplate,
  DEFAULT_MODEL,
  fetchDefaultModel,
  loadTokenizer,
  type ModelTokenizer,
} from "@radixserve/core";
import { ggufInt, ggufRequireString, ggufStringArray, readGguf } from "@radixserve/gguf";

interface Fixture {
  model_sha256: string;
  bos_token_id: number;
  eos_token_id: number;
  texts: {
    text: string;
    ids: number[];
    ids_no_special: number[];
    decoded: string;
    decoded_skip_special: string;
  }[];
  chats: { messages: ChatMessage[]; prompt: string; ids: number[] }[];
}

const fx = JSON.parse(
  readFileSync(new URL("./fixtures-gguf/tokenizer-smollm2-135m-instruct-q4_1.json", import.meta.url), "utf8"),
) as Fixture;

describe("GGUF tokenizer vs transformers (SmolLM2-135M-Instruct Q4_1)", () => {
  let tok: ModelTokenizer;
  before(async () => {
    assert.equal(
      fx.model_sha256,
      DEFAULT_MODEL.fileSha256,
      "the fixture was made from the default model's file",
    );
    tok = await loadTokenizer(await fetchDefaultModel());
  });

  test("special tokens and vocabulary size", () => {
    assert.equal(tok.bosTokenId, fx.bos_token_id);
    assert.equal(tok.eosTokenId, fx.eos_token_id);
    assert.equal(tok.vocabSize, 49152);
    assert.equal(tok.idToToken(2), "<|im_end|>");
  });

  test("encode gives transformers' ids, with and without special tokens", () => {
    for (const t of fx.texts) {
      assert.deepEqual(tok.encode(t.text), t.ids, JSON.stringify(t.text));
      assert.deepEqual(
        tok.encode(t.text, { addSpecialTokens: false }),
        t.ids_no_special,
        JSON.stringify(t.text),
      );
    }
  });

  test("decode gives transformers' text, with and without special tokens", () => {
    for (const t of fx.texts) {
      assert.equal(tok.decode(t.ids), t.decoded, JSON.stringify(t.text));
      assert.equal(
        tok.decode(t.ids, { skipSpecialTokens: true }),
        t.decoded_skip_special,
        JSON.stringify(t.text),
      );
    }
  });

  test("the GGUF's chat template renders apply_chat_template's prompt, and its ids", () => {
    const tpl = ChatTemplate.fromTokenizer(tok);
    for (const c of fx.chats) {
      const prompt = tpl.render(c.messages, { addGenerationPrompt: true });
      assert.equal(prompt, c.prompt);
      assert.deepEqual(tok.encode(prompt, { addSpecialTokens: false }), c.ids, JSON.stringify(c.messages));
    }
  });
});

describe("GGUF reader on SmolLM2-135M-Instruct (Q4_1)", () => {
  test("reads the shipped file's architecture, vocabulary and tensor types", async () => {
    const f = readGguf(await fetchDefaultModel());
    assert.equal(ggufRequireString(f, "general.architecture"), "llama");
    assert.equal(ggufInt(f, "llama.block_count"), 30);
    assert.equal(ggufInt(f, "llama.embedding_length"), 576);
    assert.equal(ggufStringArray(f, "tokenizer.ggml.tokens")?.length, 49152);
    assert.equal(ggufStringArray(f, "tokenizer.ggml.merges")?.length, 48900);
    assert.equal(ggufRequireString(f, "tokenizer.ggml.pre"), "smollm");
    const byType = new Map<string, number>();
    for (const t of f.tensors) byType.set(t.typeName, (byType.get(t.typeName) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(byType), { Q4_1: 210, Q8_0: 1, F32: 61 });
    assert.deepEqual(f.tensors.find((t) => t.name === "token_embd.weight")?.shape, [49152, 576]);
    const last = f.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
    assert.equal(last.offset + last.nbytes, f.size);
  });
});
