// Tensor parallelism inside one engine: TP=N must compute what TP=1 computes. The all-reduce adds
// the ranks' partial sums in another order than one rank's dot products do, so logits agree to a
// stated tolerance (1e-4 absolute on logits of magnitude ~1-10 for these models), not bit for bit;
// greedy tokens must be identical.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ModelPresetName } from "@radixserve/core";
import { loadEngine, relayoutKvBlocks } from "../src/index.js";
import { argmax, blocks, maxAbsDiff, openEngine, prefillLogits, testModel, tokens } from "./helpers.js";

const TOL = 1e-4;

const cases: Array<{ preset: ModelPresetName; tp: number }> = [
  { preset: "tiny", tp: 2 },
  { preset: "tiny", tp: 3 },
  { preset: "tiny", tp: 6 },
  { preset: "tiny-gqa", tp: 2 },
  { preset: "tiny-qwen2", tp: 3 }, // q/k/v biases: split with the columns
];

describe("engine tensor parallelism (CPU ranks)", () => {
  for (const { preset, tp } of cases) {
    it(`${preset} TP=${tp}: prefill and decode logits equal TP=1 within ${TOL}, greedy tokens identical`, async () => {
      const one = await openEngine(preset, "f32");
      const many = await openEngine(preset, "f32", { tpSize: tp });
      assert.equal(many.info.tpSize, tp);
      assert.equal(many.info.bytesPerBlock, one.info.bytesPerBlock, "bytesPerBlock covers all ranks");
      const vocab = one.info.vocabSize;
      // A two-sequence batch (one prefill chunk, all rows) so every position and the batching are compared.
      const p1 = tokens(29, 7, vocab);
      const p2 = tokens(5, 8, vocab);
      const run = (e: typeof one) =>
        e.step([
          { tokens: p1, startPos: 0, blockTable: blocks(0, 2), sample: false, returnLogits: "all" },
          { tokens: p2, startPos: 0, blockTable: blocks(4, 1), sample: true, returnLogits: "last" },
        ]);
      const [a1, a2] = await run(one);
      const [b1, b2] = await run(many);
      assert.ok(
        maxAbsDiff(a1!.logits!, b1!.logits!) < TOL,
        `prefill diff ${maxAbsDiff(a1!.logits!, b1!.logits!)}`,
      );
      assert.ok(maxAbsDiff(a2!.logits!, b2!.logits!) < TOL);
      assert.equal(b2!.token, a2!.token);
      // Greedy decode continues identically for 12 tokens.
      let ta = a2!.token;
      let tb = b2!.token;
      for (let pos = 5; pos < 17; pos++) {
        const table = blocks(4, 2);
        const [x] = await one.step([
          { tokens: Int32Array.of(ta), startPos: pos, blockTable: table, sample: true, returnLogits: "last" },
        ]);
        const [y] = await many.step([
          { tokens: Int32Array.of(tb), startPos: pos, blockTable: table, sample: true, returnLogits: "last" },
        ]);
        assert.ok(maxAbsDiff(x!.logits!, y!.logits!) < TOL, `decode pos ${pos}`);
        assert.equal(argmax(y!.logits!), y!.token);
        assert.equal(y!.token, x!.token, `greedy token at position ${pos}`);
        ta = x!.token;
        tb = y!.token;
      }
    });
  }

  it("export/import roundtrip per TP: shards in rank order, decode continues exactly", async () => {
    for (const tp of [1, 2, 3]) {
      const src = await openEngine("tiny", "f32", { tpSize: tp, kvCacheDtype: "bf16" });
      const dst = await openEngine("tiny", "f32", { tpSize: tp, kvCacheDtype: "bf16" });
      const prompt = tokens(40, 31);
      await prefillLogits(src, prompt, blocks(0, 3));
      const data = await src.exportBlocks(blocks(0, 3));
      assert.equal(data.length, 3 * src.info.bytesPerBlock);
      await prefillLogits(dst, tokens(48, 5), Int32Array.from([9, 2, 6])); // stale data to overwrite
      await dst.importBlocks(Int32Array.from([9, 2, 6]), data);
      assert.ok((await dst.exportBlocks(Int32Array.from([9, 2, 6]))).equals(data));
      const next = Int32Array.of(prompt[3]!);
      const [a] = await src.step([
        { tokens: next, startPos: 40, blockTable: blocks(0, 3), sample: true, returnLogits: "last" },
      ]);
      const [b] = await dst.step([
        {
          tokens: next,
          startPos: 40,
          blockTable: Int32Array.from([9, 2, 6]),
          sample: true,
          returnLogits: "last",
        },
      ]);
      assert.deepEqual(b!.logits, a!.logits, `tp ${tp}: same ranks, same data, same arithmetic`);
    }
  });

  it("export layout: a TP=2 block is the TP=1 block's KV heads split into rank shards", async () => {
    // tiny: 6 layers, 6 KV heads, head_dim 48, block 16, f32. TP=1 block = [layer][k|v][head][slot][dim];
    // rank r's shard holds heads 3r..3r+2 of every (layer, k|v) with the same inner layout.
    const one = await openEngine("tiny", "f32");
    const two = await openEngine("tiny", "f32", { tpSize: 2 });
    const prompt = tokens(16, 77);
    await prefillLogits(one, prompt, blocks(0, 1));
    await prefillLogits(two, prompt, blocks(0, 1));
    const a = new Float32Array(new Uint8Array(await one.exportBlocks(blocks(0, 1))).buffer);
    const b = new Float32Array(new Uint8Array(await two.exportBlocks(blocks(0, 1))).buffer);
    const { numLayers: L, numKvHeads: H, headDim: D, blockSize: S } = one.info;
    const slab = S * D;
    const shard = L * 2 * (H / 2) * slab;
    let worst = 0;
    for (let l = 0; l < L; l++)
      for (let kv = 0; kv < 2; kv++)
        for (let h = 0; h < H; h++) {
          const r = Math.floor(h / (H / 2));
          const at1 = ((l * 2 + kv) * H + h) * slab;
          const at2 = r * shard + ((l * 2 + kv) * (H / 2) + (h % (H / 2))) * slab;
          for (let i = 0; i < slab; i++) worst = Math.max(worst, Math.abs(a[at1 + i]! - b[at2 + i]!));
        }
    // Layer 0's K/V are bit-identical (no all-reduce before them); later layers carry the rounding.
    assert.ok(worst < TOL, `max diff ${worst}`);
  });

  it("relayoutKvBlocks moves KV between TP sizes: prefill at TP=2 or 3, decode at TP=1 and back", async () => {
    const one = await openEngine("tiny", "f32");
    const prompt = tokens(33, 12);
    const table = blocks(0, 3);
    await prefillLogits(one, prompt, table);
    const plain = await one.exportBlocks(table);
    const next = { tokens: Int32Array.of(prompt[1]!), startPos: 33, blockTable: blocks(8, 3), sample: true };
    for (const tp of [2, 3]) {
      const many = await openEngine("tiny", "f32", { tpSize: tp });
      await prefillLogits(many, prompt, table);
      const sharded = await many.exportBlocks(table);
      // TP=N -> TP=1 matches what TP=1 computed itself (up to all-reduce rounding).
      const asOne = new Float32Array(new Uint8Array(relayoutKvBlocks(sharded, one.info, tp, 1)).buffer);
      const ref = new Float32Array(new Uint8Array(plain).buffer);
      assert.ok(maxAbsDiff(asOne, ref) < TOL);
      await one.importBlocks(blocks(8, 3), relayoutKvBlocks(sharded, one.info, tp, 1));
      await many.importBlocks(blocks(8, 3), relayoutKvBlocks(plain, one.info, 1, tp));
      const [a] = await one.step([{ ...next, returnLogits: "last" }]);
      const [b] = await many.step([{ ...next, returnLogits: "last" }]);
      assert.ok(maxAbsDiff(a!.logits!, b!.logits!) < TOL);
      assert.equal(a!.token, b!.token);
      // Round trip is exact.
      assert.ok(
        Buffer.from(relayoutKvBlocks(relayoutKvBlocks(sharded, one.info, tp, 1), one.info, 1, tp)).equals(
          sharded,
        ),
      );
    }
    assert.throws(
      () => relayoutKvBlocks(plain, one.info, 4, 1),
      /tp size 4 must be a positive divisor of numKvHeads 6/,
    );
    assert.throws(() => relayoutKvBlocks(plain.subarray(1), one.info, 2, 1), /not a whole number/);
  });

  it("rejects TP sizes the shapes cannot split, in one line", async () => {
    const tiny = await testModel("tiny", "f32");
    const gqa = await testModel("tiny-gqa", "f32");
    for (const [dir, tp, what] of [
      [tiny, 4, /--tp 4 does not divide num_attention_heads 6, num_key_value_heads 6/],
      [tiny, 7, /--tp 7 does not divide num_attention_heads 6/],
      [tiny, 12, /--tp 12 does not divide/],
      [gqa, 3, /--tp 3 does not divide num_key_value_heads 2; use a tp size that divides 2/],
    ] as const) {
      await assert.rejects(loadEngine({ modelPath: dir, kvCacheBlocks: 4, tpSize: tp }), (e: Error) => {
        assert.match(e.message, what);
        assert.ok(!e.message.includes("\n"), "one line");
        assert.equal((e as { code?: string }).code, "options_invalid");
        return true;
      });
    }
    await assert.rejects(loadEngine({ modelPath: tiny, kvCacheBlocks: 4, tpSize: 0 }), /tpSize = 0/);
    await assert.rejects(
      loadEngine({ modelPath: tiny, kvCacheBlocks: 4, tpSize: 2, tpRank: 1 }),
      /multi-process TP is not built/,
    );
  });

  it("collective 'nccl' without NCCL installed fails with a clear message", async () => {
    const tiny = await testModel("tiny", "f32");
    await assert.rejects(
      loadEngine({ modelPath: tiny, kvCacheBlocks: 4, tpSize: 2, collective: "nccl" }),
      /libnccl\.so\.2.*install NCCL or use collective 'cpu'/,
    );
  });

  it("a bad step on a TP engine rejects and the engine keeps working", async () => {
    const e = await openEngine("tiny", "f32", { tpSize: 2 });
    const ok = () =>
      e.step([
        { tokens: tokens(3, 1), startPos: 0, blockTable: blocks(0, 1), sample: true, returnLogits: "last" },
      ]);
    const [before] = await ok();
    await assert.rejects(
      e.step([{ tokens: Int32Array.of(1), startPos: 0, blockTable: Int32Array.of(999), sample: true }]),
      /block/,
    );
    const [after] = await ok();
    assert.deepEqual(after!.logits, before!.logits);
    assert.equal(e.info.threads, 2, "2 threads split over 2 ranks");
  });
});

describe("engine backends", () => {
  it("backend 'cuda' where it is not built fails in one line saying how to build it", async () => {
    const tiny = await testModel("tiny", "f32");
    const prev = process.env.RADIXSERVE_CUDA_BACKEND;
    process.env.RADIXSERVE_CUDA_BACKEND = "/nonexistent/librs_cuda.so";
    try {
      await assert.rejects(loadEngine({ modelPath: tiny, kvCacheBlocks: 4, backend: "cuda" }), (e: Error) => {
        assert.match(e.message, /backend 'cuda' is not built here .*build-cuda\.mjs/);
        assert.ok(!e.message.includes("\n"));
        assert.equal((e as { code?: string }).code, "options_invalid");
        return true;
      });
    } finally {
      if (prev === undefined) delete process.env.RADIXSERVE_CUDA_BACKEND;
      else process.env.RADIXSERVE_CUDA_BACKEND = prev;
    }
    await assert.rejects(
      loadEngine({ modelPath: tiny, kvCacheBlocks: 4, backend: "tpu" as "cpu" }),
      /backend 'tpu' must be cpu or cuda/,
    );
  });

  it("the CPU engine reports its backend and TP layout", async () => {
    const e = await openEngine("tiny", "f32", { tpSize: 3 });
    assert.equal(e.info.backend, "cpu");
    assert.equal(e.info.tpSize, 3);
    assert.equal(e.info.threads, 3, "at least one thread per rank");
  });
});
