// Batching and chunking must not change the numbers: a sequence gets the same logits whether it
// runs alone, in one prefill, in chunks, or in a mixed batch with other sequences' prefill chunks
// and decode tokens. Tolerance 1e-4 absolute (f32 summation order only; logits are ~±15).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ModelPresetName } from "@radixserve/core";
import { blocks, maxAbsDiff, openEngine, tokens } from "./helpers.js";

const TOL = 1e-4;

for (const preset of ["tiny", "tiny-gqa", "tiny-qwen2"] as ModelPresetName[]) {
  describe(`engine batching (${preset})`, () => {
    it("a prompt split into prefill chunks gives the same logits as one prefill", async () => {
      const e = await openEngine(preset);
      const V = e.info.vocabSize;
      const prompt = tokens(50, 7);
      const [whole] = await e.step([
        { tokens: prompt, startPos: 0, blockTable: blocks(0, 4), sample: false, returnLogits: "all" },
      ]);
      const rows = new Float32Array(50 * V);
      let pos = 0;
      for (const len of [7, 16, 27]) {
        const [o] = await e.step([
          {
            tokens: prompt.subarray(pos, pos + len),
            startPos: pos,
            blockTable: blocks(10, 4),
            sample: false,
            returnLogits: "all",
          },
        ]);
        assert.equal(o!.logits!.length, len * V);
        rows.set(o!.logits!, pos * V);
        pos += len;
      }
      const d = maxAbsDiff(whole!.logits!, rows);
      assert.ok(d <= TOL, `chunked vs whole max |diff| ${d}`);
    });

    it("a mixed batch of prefill chunks and decode tokens matches each sequence run alone", async () => {
      const e = await openEngine(preset);
      const V = e.info.vocabSize;
      const a = tokens(40, 11);
      const b = tokens(21, 12);
      const c = tokens(37, 13);
      // Alone, each on its own blocks.
      const [aAlone] = await e.step([
        { tokens: a, startPos: 0, blockTable: blocks(0, 3), sample: false, returnLogits: "all" },
      ]);
      await e.step([{ tokens: b.subarray(0, 20), startPos: 0, blockTable: blocks(3, 2), sample: false }]);
      const [bAlone] = await e.step([
        {
          tokens: b.subarray(20),
          startPos: 20,
          blockTable: blocks(3, 2),
          sample: true,
          returnLogits: "last",
        },
      ]);
      const [cAlone] = await e.step([
        { tokens: c, startPos: 0, blockTable: blocks(5, 3), sample: true, returnLogits: "last" },
      ]);
      // Batched on other blocks: step 1 = a's first chunk + b's prefill; step 2 = a's second chunk,
      // b's decode token and c's whole prefill.
      const [, b1] = await e.step([
        { tokens: a.subarray(0, 24), startPos: 0, blockTable: blocks(20, 3), sample: false },
        { tokens: b.subarray(0, 20), startPos: 0, blockTable: blocks(23, 2), sample: true },
      ]);
      assert.equal(typeof b1!.token, "number");
      const [a2, b2, c2] = await e.step([
        {
          tokens: a.subarray(24),
          startPos: 24,
          blockTable: blocks(20, 3),
          sample: false,
          returnLogits: "all",
        },
        {
          tokens: b.subarray(20),
          startPos: 20,
          blockTable: blocks(23, 2),
          sample: true,
          returnLogits: "last",
        },
        { tokens: c, startPos: 0, blockTable: blocks(25, 3), sample: true, returnLogits: "last" },
      ]);
      const dA = maxAbsDiff(aAlone!.logits!.subarray(24 * V), a2!.logits!);
      const dB = maxAbsDiff(bAlone!.logits!, b2!.logits!);
      const dC = maxAbsDiff(cAlone!.logits!, c2!.logits!);
      assert.ok(dA <= TOL && dB <= TOL && dC <= TOL, `max |diff| a ${dA} b ${dB} c ${dC}`);
      assert.equal(b2!.token, bAlone!.token);
      assert.equal(c2!.token, cAlone!.token);
    });

    it("step calls issued together run one at a time, in order", async () => {
      const e = await openEngine(preset);
      const prompt = tokens(33, 17);
      const [seq] = await e.step([
        { tokens: prompt, startPos: 0, blockTable: blocks(30, 3), sample: false, returnLogits: "last" },
      ]);
      // The prefill and the decode that depends on its KV are issued without awaiting.
      const first = e.step([
        { tokens: prompt.subarray(0, 32), startPos: 0, blockTable: blocks(33, 3), sample: false },
      ]);
      const second = e.step([
        {
          tokens: prompt.subarray(32),
          startPos: 32,
          blockTable: blocks(33, 3),
          sample: false,
          returnLogits: "last",
        },
      ]);
      const [, [o]] = await Promise.all([first, second]);
      const d = maxAbsDiff(o!.logits!, seq!.logits!);
      assert.ok(d <= TOL, `queued prefill + decode vs one prefill: max |diff| ${d}`);
    });

    it("returns null for a sequence that neither samples nor asks for logits", async () => {
      const e = await openEngine(preset);
      const out = await e.step([
        { tokens: tokens(5, 1), startPos: 0, blockTable: blocks(40, 1), sample: false },
        { tokens: tokens(5, 2), startPos: 0, blockTable: blocks(41, 1), sample: true },
      ]);
      assert.equal(out[0], null);
      assert.ok(out[1]!.token >= 0 && out[1]!.token < e.info.vocabSize);
      assert.equal(out[1]!.logits, undefined);
    });
  });
}
