// Tensor-parallel slicing in the native loader: a column split takes a contiguous range of rows of
// W[out, in] (zero-copy), a row split takes a range of columns of every row (copied).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nativeAddon } from "../src/native.js";

function matrix(rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => i);
}

describe("native weight slicing", () => {
  const addon = nativeAddon();
  const w = matrix(4, 6); // w[r][c] = r * 6 + c
  const bytes = new Uint8Array(w.buffer);
  const base = { name: "w", dtype: "f32" as const, shape: [4, 6], bytes };

  it("column split: rank r gets rows r*out/tp ..", () => {
    const s = addon.sliceWeight({ ...base, split: 1, tpRank: 1, tpSize: 2 });
    assert.equal(s.rows, 2);
    assert.equal(s.cols, 6);
    assert.deepEqual(
      Array.from(new Float32Array(s.bytes.buffer, s.bytes.byteOffset, 12)),
      Array.from(w.subarray(12, 24)),
    );
  });

  it("row split: rank r gets columns r*in/tp .. of every row", () => {
    const s = addon.sliceWeight({ ...base, split: 2, tpRank: 2, tpSize: 3 });
    assert.equal(s.rows, 4);
    assert.equal(s.cols, 2);
    assert.deepEqual(
      Array.from(new Float32Array(s.bytes.buffer, s.bytes.byteOffset, 8)),
      [4, 5, 10, 11, 16, 17, 22, 23],
    );
  });

  it("bf16 slices keep their 2-byte elements, and bad splits are errors", () => {
    const half = new Uint8Array(4 * 6 * 2).map((_, i) => i);
    const s = addon.sliceWeight({ ...base, dtype: "bf16", bytes: half, split: 2, tpRank: 0, tpSize: 2 });
    assert.equal(s.bytes.length, 4 * 3 * 2);
    assert.deepEqual(Array.from(s.bytes.subarray(0, 8)), [0, 1, 2, 3, 4, 5, 12, 13]);
    assert.throws(
      () => addon.sliceWeight({ ...base, split: 1, tpRank: 0, tpSize: 3 }),
      /output dim not divisible by tp size/,
    );
    assert.throws(
      () => addon.sliceWeight({ ...base, split: 2, tpRank: 0, tpSize: 4 }),
      /input dim not divisible by tp size/,
    );
  });
});
