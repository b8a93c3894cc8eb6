// The long-batch kernels against the plain reference: batches of 64 tokens or more take the packed
// GEMM (kernels-avx512.cc) and attention runs on 16-token query tiles over many KV blocks, which
// the short prompts of engine-kernels.test.ts never reach. Tolerance 1e-4 absolute on logits.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Engine, StepSequence } from "../src/index.js";
import { blocks, maxAbsDiff, openEngine, tokens } from "./helpers.js";

const TOL = 1e-4;

// One step mixing a 150-token prefill (crosses blocks, tiles and the k-block tail of hidden 288),
// a 70-token chunk continuing at position 30, and a decode token: 221 tokens, every row's logits.
async function mixedLogits(e: Engine): Promise<Float32Array> {
  await e.step([{ tokens: tokens(30, 5), startPos: 0, blockTable: blocks(20, 7), sample: false }]);
  await e.step([{ tokens: tokens(40, 6), startPos: 0, blockTable: blocks(40, 3), sample: false }]);
  const seqs: StepSequence[] = [
    { tokens: tokens(150, 4), startPos: 0, blockTable: blocks(0, 10), sample: false, returnLogits: "all" },
    { tokens: tokens(70, 7), startPos: 30, blockTable: blocks(20, 7), sample: false, returnLogits: "all" },
    {
      tokens: Int32Array.from([9]),
      startPos: 40,
      blockTable: blocks(40, 3),
      sample: false,
      returnLogits: "all",
    },
  ];
  const outs = await e.step(seqs);
  const rows = outs.map((o) => o!.logits!);
  const all = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of rows) {
    all.set(r, at);
    at += r.length;
  }
  return all;
}

describe("engine kernels on long batches vs the plain reference", () => {
  for (const dtype of ["f32", "bf16"] as const) {
    it(`${dtype} weights: a 221-token mixed batch matches the reference on every SIMD level`, async () => {
      const want = await mixedLogits(await openEngine("tiny", dtype, { simd: "reference" }));
      const auto = await openEngine("tiny", dtype);
      const levels =
        auto.info.simd === "avx512" ? ["avx512", "avx2"] : auto.info.simd === "avx2" ? ["avx2"] : [];
      for (const simd of levels) {
        const got = await mixedLogits(await openEngine("tiny", dtype, { simd: simd as "avx2" }));
        const d = maxAbsDiff(got, want);
        assert.ok(d <= TOL, `${simd} ${dtype}: max |diff| ${d}`);
      }
    });
  }

  it("tiny-gqa: query tiles shared by a GQA group match the reference", async () => {
    const want = await mixedLogits(await openEngine("tiny-gqa", "f32", { simd: "reference" }));
    const got = await mixedLogits(await openEngine("tiny-gqa", "f32"));
    const d = maxAbsDiff(got, want);
    assert.ok(d <= TOL, `tiny-gqa: max |diff| ${d}`);
  });
});
