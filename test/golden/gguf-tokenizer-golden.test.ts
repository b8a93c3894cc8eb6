/**
 * The tokenizer built from a GGUF's metadata against transformers' tokenizer for the same GGUF
 * (`AutoTokenizer.from_pretrained(dir, gguf_file=...)`; fixtures by tools/oracle/gguf_golden.py and
 * gguf_tokenizer_golden.py): the default model SmolLM2-135M-Instruct (byte-level BPE, pre-tokenizer
 * "smollm", ChatML template in `tokenizer.chat_template`) and a GGUF holding Llama 2's SentencePiece
 * vocabulary (spm-gguf.ts). Ids with and without special tokens and decodes over a varied
 * corpus, and the chat prompts' text and ids, must be identical.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import {
  type ChatMessage,
  ChatTemplate,
  DEFAULT_MODEL,
  fetchDefaultModel,
  loadTokenizer,
  type ModelTokenizer,
  sha256File,
} from "@radixserve/core";
import { ggufInt, ggufRequireString, ggufStringArray, readGguf } from "@radixserve/gguf";
import { writeLlama2SpmGguf } from "./spm-gguf.js";
import { checkDecode, checkEncode, type TextCase } from "./tokenizer-checks.js";

interface Fixture {
  model_sha256: string;
  bos_token_id: number;
  eos_token_id: number;
  texts: TextCase[];
  chats: { messages: ChatMessage[]; prompt: string; ids: number[] }[];
}

const FIXTURES = new URL("./fixtures-gguf/", import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8")) as Fixture;

const CASES: { name: string; fx: Fixture; vocabSize: number; gguf: (fx: Fixture) => Promise<string> }[] = [
  {
    // byte-level BPE, pre-tokenizer "smollm", no BOS added, ChatML template.
    name: "SmolLM2-135M-Instruct Q4_1 (gpt2 BPE)",
    fx: load("tokenizer-smollm2-135m-instruct-q4_1.json"),
    vocabSize: 49152,
    gguf: async (fx) => {
      assert.equal(
        fx.model_sha256,
        DEFAULT_MODEL.fileSha256,
        "the fixture was made from the default model's file",
      );
      return fetchDefaultModel();
    },
  },
  {
    // SentencePiece: byte fallback, merges recovered from scores, BOS added, Llama 2 template.
    name: "Llama 2 SentencePiece vocabulary (llama)",
    fx: load("tokenizer-llama2-spm-gguf.json"),
    vocabSize: 32000,
    gguf: async (fx) => {
      const path = join(mkdtempSync(join(tmpdir(), "rs-spm-gguf-")), "llama2-spm.gguf");
      writeLlama2SpmGguf(path);
      assert.equal(
        await sha256File(path),
        fx.model_sha256,
        "spm-gguf.ts writes the file the fixture was made from",
      );
      return path;
    },
  },
];

for (const c of CASES) {
  const fx = c.fx;
  describe(`GGUF tokenizer vs transformers: ${c.name}`, () => {
    let tok: ModelTokenizer;
    before(async () => {
      tok = await loadTokenizer(await c.gguf(fx));
    });

    test("special tokens and vocabulary size", () => {
      assert.equal(tok.bosTokenId, fx.bos_token_id);
      assert.equal(tok.eosTokenId, fx.eos_token_id);
      assert.equal(tok.vocabSize, c.vocabSize);
    });

    test("encode gives transformers' ids, with and without special tokens", () => checkEncode(tok, fx.texts));

    test("decode gives transformers' text, with and without special tokens", () =>
      checkDecode(tok, fx.texts));

    test("the GGUF's chat template renders apply_chat_template's prompt, and its ids", () => {
      const tpl = ChatTemplate.fromTokenizer(tok);
      for (const ch of fx.chats) {
        const prompt = tpl.render(ch.messages, { addGenerationPrompt: true });
        assert.equal(prompt, ch.prompt);
        assert.deepEqual(
          tok.encode(prompt, { addSpecialTokens: false }),
          ch.ids,
          JSON.stringify(ch.messages),
        );
      }
    });
  });
}

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
