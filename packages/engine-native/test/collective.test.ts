// The CPU collective on its own (through the addon's test hook): all_reduce_sum, broadcast and
// barrier across rank threads, with slices that do not divide evenly and many back-to-back rounds.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nativeAddon } from "../src/native.js";

/** What the hook must produce: see collective_test in src/binding/addon.cc. */
function expected(ranks: number, n: number, rounds: number): Float32Array {
  let v = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let r = 0; r < ranks; r++) s += r * 1000 + i;
    return s;
  });
  for (let k = 0; k < rounds; k++) {
    if (k > 0) v = v.map((x) => x * ranks); // the buffers are equal after a broadcast
    v = v.map((x) => x + 0.5);
  }
  return Float32Array.from(v);
}

describe("CPU collective", () => {
  const addon = nativeAddon();

  for (const [ranks, n, rounds] of [
    [2, 16, 1],
    [3, 1001, 3], // slices of 333/334 elements
    [3, 2, 2], // fewer elements than ranks: rank 2 sums nothing
    [6, 97, 2],
    [1, 5, 2],
  ] as const) {
    it(`${ranks} ranks, ${n} floats, ${rounds} rounds: every rank holds the exact sum, then the root's data`, () => {
      const out = addon.collectiveTest({ ranks, n, rounds });
      const want = expected(ranks, n, rounds);
      assert.equal(out.length, ranks);
      for (const [r, buf] of out.entries()) assert.deepEqual(buf, want, `rank ${r}`);
    });
  }

  it("300 back-to-back rounds on 4 ranks leave every rank bit-identical", () => {
    const out = addon.collectiveTest({ ranks: 4, n: 64, rounds: 300 });
    const first = Buffer.from(out[0]!.buffer);
    for (const buf of out) assert.ok(Buffer.from(buf.buffer).equals(first));
  });
});
