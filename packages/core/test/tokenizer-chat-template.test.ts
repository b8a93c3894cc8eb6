import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RadixServeError } from "../src/errors/index.js";
import { ChatTemplate } from "../src/tokenizer/chat-template.js";
import { loadGenerationConfig } from "../src/tokenizer/generation-config.js";
import { loadTokenizer } from "../src/tokenizer/tokenizer.js";
import { withModelJson } from "./tokenizer-helpers.js";

const CONVERSATION = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Hi there" },
  { role: "assistant" as const, content: "Hello." },
  {
    role: "user" as const,
    content: [
      { type: "text" as const, text: "Count" },
      { type: "text" as const, text: "to 3" },
    ],
  },
];

describe("ChatTemplate", () => {
  test("tool calls reach the template with parsed arguments, tool results with their call id, tools as a variable", () => {
    const tpl = new ChatTemplate(
      "{% for t in tools %}[tool {{ t.function.name }}]{% endfor %}" +
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}" +
        "{% if m.tool_calls %}{% for c in m.tool_calls %}(call {{ c.id }} {{ c.function.name }} city={{ c.function.arguments.city }}){% endfor %}{% endif %}" +
        "{% if m.tool_call_id %}(for {{ m.tool_call_id }}){% endif %}{% endfor %}",
    );
    const text = tpl.render(
      [
        { role: "user", content: "weather?" },
        {
          role: "assistant",
          content: null,
          toolCalls: [{ id: "c1", type: "function", function: { name: "w", arguments: '{"city":"Oslo"}' } }],
        },
        { role: "tool", content: "cold", toolCallId: "c1" },
      ],
      { addGenerationPrompt: false, extra: { tools: [{ type: "function", function: { name: "w" } }] } },
    );
    assert.equal(text, "[tool w]<user>weather?<assistant>(call c1 w city=Oslo)<tool>cold(for c1)");
    assert.throws(
      () => tpl.render([{ role: "assistant", content: null }]),
      /must be a string or an array of text parts/,
    );
  });

  test("Llama-2 template renders a fixed conversation exactly", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      const tpl = ChatTemplate.fromTokenizer(tok);
      const text = tpl.render(CONVERSATION);
      assert.equal(
        text,
        "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello. </s><s>[INST] Count\nto 3 [/INST]",
      );
      // The rendered text carries its own BOS: tokenize it without adding special tokens.
      const ids = tok.encode(text, { addSpecialTokens: false });
      assert.equal(ids[0], 1);
      assert.equal(ids.filter((id) => id === 1).length, 2);
      assert.equal(ids.filter((id) => id === 2).length, 1);
    });
  });

  test("ChatML template adds the default system prompt and the generation prompt", async () => {
    await withModelJson("tiny-qwen2", async (dir) => {
      const tpl = ChatTemplate.fromTokenizer(await loadTokenizer(dir));
      const messages = [{ role: "user" as const, content: "Hi" }];
      assert.equal(
        tpl.render(messages),
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
      );
      assert.ok(!tpl.render(messages, { addGenerationPrompt: false }).endsWith("<|im_start|>assistant\n"));
    });
  });

  test("bad conversations and models without a template give invalid_request errors", async () => {
    await withModelJson("tiny", async (dir) => {
      const tpl = ChatTemplate.fromTokenizer(await loadTokenizer(dir));
      const isInvalid = (re: RegExp) => (e: unknown) =>
        e instanceof RadixServeError && e.code === "invalid_request" && re.test(e.message);
      assert.throws(
        () =>
          tpl.render([
            { role: "user", content: "a" },
            { role: "user", content: "b" },
          ]),
        isInvalid(/roles must alternate/),
      );
      assert.throws(() => tpl.render([]), isInvalid(/non-empty array/));
      assert.throws(
        () => tpl.render([{ role: "wizard" as never, content: "a" }]),
        isInvalid(/role must be one of/),
      );
      assert.throws(
        () => tpl.render([{ role: "user", content: [{ type: "image_url", image_url: "x" } as never] }]),
        isInvalid(/"image_url" part; only text parts/),
      );
      assert.throws(
        () => tpl.render([{ role: "user", content: 5 as never }]),
        isInvalid(/must be a string or an array/),
      );

      const cfgPath = join(dir, "tokenizer_config.json");
      const cfg = JSON.parse(await readFile(cfgPath, "utf8"));
      delete cfg.chat_template;
      await writeFile(cfgPath, JSON.stringify(cfg));
      const bare = await loadTokenizer(dir);
      assert.equal(bare.chatTemplate, null);
      assert.throws(() => ChatTemplate.fromTokenizer(bare), isInvalid(/has no chat template/));
    });
  });
});

describe("generation config", () => {
  test("defaults and stop ids come from generation_config.json, config.json and the tokenizer", async () => {
    await withModelJson("tiny-qwen2", async (dir) => {
      const tok = await loadTokenizer(dir);
      const gen = await loadGenerationConfig(dir, tok);
      assert.equal(gen.temperature, 0.7);
      assert.equal(gen.topP, 0.9);
      assert.equal(gen.topK, 50);
      assert.equal(gen.repetitionPenalty, 1);
      assert.equal(gen.maxNewTokens, 256);
      assert.deepEqual(gen.stopTokenIds, [2, 32001]);
    });
  });

  test("an int eos_token_id works, a missing file gives only stop ids, a bad value is an error", async () => {
    await withModelJson("tiny", async (dir) => {
      await writeFile(
        join(dir, "generation_config.json"),
        JSON.stringify({ eos_token_id: 7, temperature: 0.5 }),
      );
      const gen = await loadGenerationConfig(dir);
      assert.deepEqual(gen.stopTokenIds, [2, 7]);
      assert.equal(gen.temperature, 0.5);
      assert.equal(gen.topP, undefined);
      await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: ["x"] }));
      await assert.rejects(loadGenerationConfig(dir), /eos_token_id must be a token id/);
      await writeFile(join(dir, "generation_config.json"), JSON.stringify({ top_p: "high" }));
      await assert.rejects(loadGenerationConfig(dir), /top_p must be a number/);
    });
  });
});
