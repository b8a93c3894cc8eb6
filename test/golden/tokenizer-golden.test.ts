/**
 * The TS tokenizer and chat templates against Hugging Face's own libraries.
 *
 * Fixtures (tools/oracle/tokenizer_golden.py) hold the ids and decodes of HF's Rust `tokenizers`
 * for fixed texts, and transformers' apply_chat_template output for fixed conversations, on the
 * tokenizer files the model maker writes. The JS port (@huggingface/tokenizers) and the Jinja
 * port (@huggingface/jinja) must agree exactly.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type ChatMessage,
  ChatTemplate,
  loadTokenizer,
  type ModelPresetName,
  type ModelTokenizer,
  writeModelJsonFiles,
} from "@radixserve/core";

interface TokenizerFixture {
  case: string;
  preset: ModelPresetName;
  texts: {
    text: string;
    ids: number[];
    ids_no_special: number[];
    decoded: string;
    decoded_skip_special: string;
  }[];
  chats: { messages: ChatMessage[]; prompt: string }[];
}

const FIXTURES = new URL("./fixtures/", import.meta.url);
const files = readdirSync(FIXTURES).filter((f) => f.startsWith("tokenizer-") && f.endsWith(".json"));

describe("tokenizer vs Hugging Face tokenizers/transformers", () => {
  test("fixtures exist", () => assert.ok(files.length >= 2));

  for (const file of files.sort()) {
    const fx = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as TokenizerFixture;
    describe(fx.case, () => {
      let dir: string;
      let tok: ModelTokenizer;
      before(async () => {
        dir = await mkdtemp(join(tmpdir(), `rs-tokgold-${fx.preset}-`));
        await writeModelJsonFiles(dir, fx.preset);
        tok = await loadTokenizer(dir);
      });
      after(async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      test("encode gives the same ids, with and without special tokens", () => {
        for (const t of fx.texts) {
          assert.deepEqual(tok.encode(t.text), t.ids, JSON.stringify(t.text));
          assert.deepEqual(
            tok.encode(t.text, { addSpecialTokens: false }),
            t.ids_no_special,
            JSON.stringify(t.text),
          );
        }
      });

      test("decode gives the same text, with and without special tokens", () => {
        for (const t of fx.texts) {
          assert.equal(tok.decode(t.ids), t.decoded, JSON.stringify(t.text));
          assert.equal(
            tok.decode(t.ids, { skipSpecialTokens: true }),
            t.decoded_skip_special,
            JSON.stringify(t.text),
          );
        }
      });

      test("the chat template renders the same prompt as apply_chat_template", () => {
        const tpl = ChatTemplate.fromTokenizer(tok);
        for (const c of fx.chats)
          assert.equal(tpl.render(c.messages, { addGenerationPrompt: true }), c.prompt);
      });
    });
  }
});
