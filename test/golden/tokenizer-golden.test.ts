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
  loadGenerationConfig,
  loadTokenizer,
  type ModelPresetName,
  type ModelTokenizer,
  writeModelJsonFiles,
} from "@radixserve/core";
import { checkDecode, checkEncode, type TextCase } from "./tokenizer-checks.js";

interface TokenizerFixture {
  case: string;
  /** The model maker preset, or null for a committed checkpoint. */
  preset: ModelPresetName | null;
  /** Repository-relative directory of a committed checkpoint (its chat_template.jinja, transformers 5). */
  checkpoint?: string | null;
  texts: TextCase[];
  chats: { messages: ChatMessage[]; prompt: string }[];
}

const FIXTURES = new URL("./fixtures/", import.meta.url);
const REPO_ROOT = new URL("../../", import.meta.url);
const files = readdirSync(FIXTURES).filter((f) => f.startsWith("tokenizer-") && f.endsWith(".json"));

describe("tokenizer vs Hugging Face tokenizers/transformers", () => {
  test("fixtures exist", () => assert.ok(files.length >= 4));

  for (const file of files.sort()) {
    const fx = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as TokenizerFixture;
    describe(fx.case, () => {
      let scratch: string | undefined;
      let tok: ModelTokenizer;
      before(async () => {
        if (fx.checkpoint) {
          tok = await loadTokenizer(new URL(fx.checkpoint, REPO_ROOT).pathname);
        } else {
          assert.ok(fx.preset, `${fx.case}: a fixture names a preset or a checkpoint`);
          scratch = await mkdtemp(join(tmpdir(), `rs-tokgold-${fx.preset}-`));
          await writeModelJsonFiles(scratch, fx.preset);
          tok = await loadTokenizer(scratch);
        }
      });
      after(async () => {
        if (scratch) await rm(scratch, { recursive: true, force: true });
      });

      test("encode gives the same ids, with and without special tokens", () => checkEncode(tok, fx.texts));

      test("decode gives the same text, with and without special tokens", () => checkDecode(tok, fx.texts));

      if (fx.checkpoint) {
        test("transformers 5 files: chat_template.jinja is the template, generation_config.json the defaults", async () => {
          const dir = new URL(fx.checkpoint!, REPO_ROOT).pathname;
          assert.equal(tok.chatTemplate, readFileSync(join(dir, "chat_template.jinja"), "utf8"));
          const gen = await loadGenerationConfig(dir, tok);
          assert.deepEqual(
            { t: gen.temperature, p: gen.topP, k: gen.topK, sample: gen.doSample, stops: gen.stopTokenIds },
            { t: 0.6, p: 0.9, k: 20, sample: true, stops: [2] },
          );
        });
      }

      test("the chat template renders the same prompt as apply_chat_template", () => {
        const tpl = ChatTemplate.fromTokenizer(tok);
        for (const c of fx.chats)
          assert.equal(tpl.render(c.messages, { addGenerationPrompt: true }), c.prompt);
      });
    });
  }
});
