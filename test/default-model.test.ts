/**
 * The default model answers: `radixserve start` with no --model-path serves SmolLM2-135M-Instruct
 * (the GGUF fetched into the cache by `npm test`), says so in one line, and at temperature 0 answers
 * "What is the capital of France?" with Paris, in unified and in prefill/decode mode.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Launched, launch } from "./harness/launcher.js";

async function askFrance(l: Launched): Promise<string> {
  const models = (await (await fetch(`${l.ready.baseUrl}/models`)).json()) as { data: { id: string }[] };
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["SmolLM2-135M-Instruct"],
  );
  const res = await fetch(`${l.ready.baseUrl}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "SmolLM2-135M-Instruct",
      messages: [{ role: "user", content: "What is the capital of France?" }],
      temperature: 0,
      max_tokens: 16,
    }),
  });
  const body = (await res.json()) as { choices: { message: { content: string } }[] };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.choices[0]!.message.content;
}

describe("default model: SmolLM2-135M-Instruct answers", () => {
  for (const mode of [["--disagg-mode", "unified"], []]) {
    const name = mode.length ? "unified" : "prefill/decode";
    it(`${name}: "What is the capital of France?" -> Paris`, async () => {
      const l = await launch([...mode, "--threads", "1"]);
      try {
        assert.match(
          l.stderr(),
          /no --model-path: serving the default model SmolLM2-135M-Instruct \(\S+\.gguf\)/,
        );
        const answer = await askFrance(l);
        assert.match(answer, /Paris/, answer);
        assert.equal(answer, "The capital of France is Paris.");
      } finally {
        l.proc.kill("SIGTERM");
        await l.exit;
      }
    });
  }
});
