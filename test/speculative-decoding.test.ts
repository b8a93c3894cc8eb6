/**
 * Speculative decoding end to end on the default model (SmolLM2-135M-Instruct): `radixserve start`
 * with --speculative-algorithm ngram, in unified and in prefill/decode mode (the launcher gives the
 * flags to the decode worker only), answers a repetition-heavy prompt at temperature 0 exactly as a
 * server without speculation does, with max_tokens and a stop string.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { launch } from "./harness/launcher.js";

const PASSAGE =
  "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889.";

async function answers(args: string[]): Promise<string[]> {
  const l = await launch([...args, "--threads", "1"]);
  try {
    const out: string[] = [];
    for (const extra of [{ max_tokens: 48 }, { max_tokens: 64, stop: ["Gustave"] }]) {
      const res = await fetch(`${l.ready.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "SmolLM2-135M-Instruct",
          messages: [{ role: "user", content: `Repeat this passage word for word:\n\n${PASSAGE}` }],
          temperature: 0,
          ...extra,
        }),
      });
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      assert.equal(res.status, 200, JSON.stringify(body));
      out.push(body.choices[0]!.message.content);
    }
    return out;
  } finally {
    l.proc.kill("SIGTERM");
    await l.exit;
  }
}

describe("speculative decoding (ngram) on the default model", () => {
  it("greedy answers are identical with and without speculation, unified and prefill/decode", async () => {
    const plain = await answers(["--disagg-mode", "unified"]);
    assert.ok(plain[0]!.includes("Eiffel"), plain[0]);
    const spec = ["--speculative-algorithm", "ngram", "--speculative-num-draft-tokens", "4"];
    assert.deepEqual(await answers(["--disagg-mode", "unified", ...spec]), plain);
    assert.deepEqual(await answers(spec), plain);
  });
});
