// The SIMD kernels (AVX-512, AVX2; f32, f16, bf16 weights converted in registers) against the
// plain-loop reference kernels, through the whole forward pass. Tolerance 1e-4 absolute on logits.
import assert from "node:assert/strict";
import { cpus } from "node:os";
import { describe, it } from "node:test";
import type { Engine } from "../src/index.js";
import { blocks, maxAbsDiff, openEngine, tokens } from "./helpers.js";

const cpuModel = cpus()[0]?.model ?? "unknown CPU";
const TOL = 1e-4;

async function allLogits(e: Engine, n: number): Promise<Float32Array> {
  // Prefill (the register-blocked path) and then a single decode token (the GEMV path).
  const prompt = tokens(n, 77);
  const [pre] = await e.step([
    { tokens: prompt, startPos: 0, blockTable: blocks(0, 2), sample: false, returnLogits: "all" },
  ]);
  const [dec] = await e.step([
    {
      tokens: Int32Array.from([500]),
      startPos: n,
      blockTable: blocks(0, 2),
      sample: false,
      returnLogits: "last",
    },
  ]);
  const out = new Float32Array(pre!.logits!.length + dec!.logits!.length);
  out.set(pre!.logits!);
  out.set(dec!.logits!, pre!.logits!.length);
  return out;
}

describe(`engine kernels vs the plain reference (${cpuModel})`, () => {
  for (const dtype of ["f32", "f16", "bf16"] as const) {
    it(`${dtype} weights: every available SIMD level matches the reference`, async () => {
      const ref = await openEngine("tiny", dtype, { simd: "reference" });
      assert.equal(ref.info.simd, "reference");
      assert.equal(ref.info.weightDtype, dtype);
      const want = await allLogits(ref, 21);
      const auto = await openEngine("tiny", dtype);
      const levels =
        auto.info.simd === "avx512" ? ["avx512", "avx2"] : auto.info.simd === "avx2" ? ["avx2"] : [];
      for (const simd of levels) {
        const e = await openEngine("tiny", dtype, { simd: simd as "avx2" });
        const d = maxAbsDiff(await allLogits(e, 21), want);
        assert.ok(d <= TOL, `${simd} ${dtype}: max |diff| ${d}`);
      }
    });
  }

  it("f16 and bf16 KV caches stay close to the f32 one", async () => {
    const f32 = await allLogits(await openEngine("tiny-gqa"), 30);
    for (const kvCacheDtype of ["f16", "bf16"] as const) {
      const e = await openEngine("tiny-gqa", "f32", { kvCacheDtype });
      assert.equal(e.info.kvCacheDtype, kvCacheDtype);
      assert.equal(e.info.bytesPerBlock, 6 * 2 * 2 * 16 * 48 * 2);
      const d = maxAbsDiff(await allLogits(e, 30), f32);
      assert.ok(d < 0.05, `kv ${kvCacheDtype}: max |diff| ${d}`);
    }
  });

  it("threads = 1 and threads = 2 give the same logits", async () => {
    const one = await allLogits(await openEngine("tiny", "bf16", { threads: 1 }), 17);
    const two = await allLogits(await openEngine("tiny", "bf16", { threads: 2 }), 17);
    assert.deepEqual(one, two);
  });
});
