// Where the chat template comes from: chat_template.jinja (transformers 5) wins over
// tokenizer_config.json's chat_template, which may be a string or a list of named templates.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadTokenizer } from "../src/tokenizer/tokenizer.js";
import { withModelJson } from "./tokenizer-helpers.js";

async function editTokenizerConfig(dir: string, edit: (c: Record<string, unknown>) => void): Promise<void> {
  const p = join(dir, "tokenizer_config.json");
  const c = JSON.parse(await readFile(p, "utf8")) as Record<string, unknown>;
  edit(c);
  await writeFile(p, JSON.stringify(c));
}

describe("chat template sources", () => {
  test("chat_template.jinja is read, and wins over tokenizer_config.json", async () => {
    await withModelJson("tiny", async (dir) => {
      await writeFile(join(dir, "chat_template.jinja"), "{{ messages[0]['content'] }}|jinja");
      assert.equal((await loadTokenizer(dir)).chatTemplate, "{{ messages[0]['content'] }}|jinja");
      await editTokenizerConfig(dir, (c) => delete c["chat_template"]);
      assert.equal((await loadTokenizer(dir)).chatTemplate, "{{ messages[0]['content'] }}|jinja");
    });
  });

  test("a list of named templates: 'default', or the only one; several without a default are refused", async () => {
    await withModelJson("tiny", async (dir) => {
      await editTokenizerConfig(dir, (c) => {
        c["chat_template"] = [
          { name: "tool_use", template: "T" },
          { name: "default", template: "D" },
        ];
      });
      assert.equal((await loadTokenizer(dir)).chatTemplate, "D");
      await editTokenizerConfig(dir, (c) => (c["chat_template"] = [{ name: "rag", template: "R" }]));
      assert.equal((await loadTokenizer(dir)).chatTemplate, "R");
      await editTokenizerConfig(dir, (c) => {
        c["chat_template"] = [
          { name: "rag", template: "R" },
          { name: "tool_use", template: "T" },
        ];
      });
      await assert.rejects(
        loadTokenizer(dir),
        /chat_template lists templates \["rag","tool_use"\] and none is "default"/,
      );
    });
  });

  test("no template anywhere gives null", async () => {
    await withModelJson("tiny", async (dir) => {
      await editTokenizerConfig(dir, (c) => delete c["chat_template"]);
      assert.equal((await loadTokenizer(dir)).chatTemplate, null);
    });
  });
});
