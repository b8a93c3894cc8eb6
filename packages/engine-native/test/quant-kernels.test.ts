// Block-quantized weights: the block decoders against llama.cpp's Python reference (a fixture made by
// tools/oracle/gguf_dequant.py), the quantizer's error bound, and every SIMD level's matmul against
// the plain dequantize-then-f32 reference kernel, for decode-sized (fused) and prefill-sized
// (dequantized panel) batches and rows with an odd number of 32-value blocks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { nativeAddon } from "../src/native.js";

const a = nativeAddon();
const QUANT = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"] as const;
const BLOCK: Record<string, number> = {
  q8_0: 32,
  q4_0: 32,
  q4_1: 32,
  q5_0: 32,
  q5_1: 32,
  q4_k: 256,
  q5_k: 256,
  q6_k: 256,
};
// Levels per block: the quantizer's worst rounding error is half a step of (max - min) / levels.
const LEVELS: Record<string, number> = {
  q8_0: 254,
  q4_0: 15,
  q4_1: 15,
  q5_0: 31,
  q5_1: 31,
  q4_k: 15,
  q5_k: 31,
  q6_k: 63,
};

function randoms(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) / 2 ** 24 - 0.5;
  }
  return out;
}

function cpuHas(flag: string): boolean {
  return new RegExp(`\\b${flag}\\b`).test(readFileSync("/proc/cpuinfo", "utf8"));
}

describe("block decoders", () => {
  const fixture = JSON.parse(
    readFileSync(new URL("fixtures/quant-blocks.json", import.meta.url), "utf8"),
  ) as {
    cases: { dtype: string; rows: number; cols: number; bytes: string; values: number[] }[];
  };
  for (const c of fixture.cases) {
    it(`${c.dtype}: dequantized values equal llama.cpp's gguf-py reference exactly`, () => {
      const got = a.dequantizeRows({
        dtype: c.dtype,
        rows: c.rows,
        cols: c.cols,
        weight: Buffer.from(c.bytes, "base64"),
      });
      assert.equal(got.length, c.values.length);
      for (let i = 0; i < got.length; i++) assert.equal(got[i], Math.fround(c.values[i]!), `value ${i}`);
    });
  }
  for (const t of QUANT) {
    it(`${t}: quantize then dequantize stays within the block's rounding step`, () => {
      const cols = 512;
      const x = randoms(4 * cols, 3);
      const back = a.dequantizeRows({
        dtype: t,
        rows: 4,
        cols,
        weight: a.quantizeRows({ dtype: t, rows: 4, cols, x }),
      });
      // K types quantize their sub-block scales too: allow two steps of the largest range.
      let range = 0;
      for (const v of x) range = Math.max(range, Math.abs(v));
      const bound = (2 * range * 2) / LEVELS[t]!;
      for (let i = 0; i < x.length; i++)
        assert.ok(Math.abs(x[i]! - back[i]!) <= bound, `${t} value ${i}: ${x[i]} -> ${back[i]}`);
    });
  }
});

describe("quantized matmul kernels", () => {
  const levels = ["avx512", "avx2"] as const;
  for (const t of QUANT) {
    // 288 = 9 blocks of 32 (odd: the kernels' tail); K types need whole 256-value super-blocks.
    const cols = BLOCK[t] === 32 ? 288 : 512;
    const rows = 37;
    const w = a.quantizeRows({ dtype: t, rows, cols, x: randoms(rows * cols, 11) });
    for (const simd of levels) {
      it(`${t}: ${simd} matches the reference kernel for 1, 3, 4, 9 and 70 tokens`, () => {
        if (!cpuHas(simd === "avx512" ? "avx512f" : "avx2")) {
          assert.throws(
            () =>
              a.quantMatmul({
                simd,
                exact: false,
                dtype: t,
                rows,
                cols,
                weight: w,
                x: randoms(cols, 1),
                nTokens: 1,
              }),
            /this CPU has no/,
          );
          return;
        }
        for (const n of [1, 3, 4, 9, 70]) {
          const x = randoms(n * cols, 20 + n);
          const ref = a.quantMatmul({
            simd: "reference",
            exact: true,
            dtype: t,
            rows,
            cols,
            weight: w,
            x,
            nTokens: n,
          });
          const got = a.quantMatmul({ simd, exact: false, dtype: t, rows, cols, weight: w, x, nTokens: n });
          for (let i = 0; i < ref.length; i++)
            assert.ok(
              Math.abs(ref[i]! - got[i]!) <= 1e-4 * Math.max(1, Math.abs(ref[i]!)),
              `${n} tokens, out ${i}: ${got[i]} vs ${ref[i]}`,
            );
        }
      });
    }
  }
});
