// KV block export/import (the KV transfer's building block) and copy-on-write block copies.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blocks, openEngine, prefillLogits, tokens } from "./helpers.js";

describe("engine KV blocks", () => {
  it("export then import into other block ids reproduces the next-token logits exactly", async () => {
    for (const kvCacheDtype of ["f32", "bf16"] as const) {
      const src = await openEngine("tiny-gqa", "f32", { kvCacheDtype });
      const dst = await openEngine("tiny-gqa", "f32", { kvCacheDtype });
      const prompt = tokens(37, 21);
      const next = Int32Array.from([prompt[5]!]);
      await prefillLogits(src, prompt, blocks(0, 3));
      const data = await src.exportBlocks(blocks(0, 3));
      assert.equal(data.length, 3 * src.info.bytesPerBlock);
      // The receiving engine holds other data in the target blocks first: import must overwrite it.
      await prefillLogits(dst, tokens(48, 99), Int32Array.from([7, 3, 9]));
      await dst.importBlocks(Int32Array.from([7, 3, 9]), data);
      const decode = (e: typeof src, table: Int32Array) =>
        e.step([{ tokens: next, startPos: 37, blockTable: table, sample: true, returnLogits: "last" }]);
      const [a] = await decode(src, blocks(0, 3));
      const [b] = await decode(dst, Int32Array.from([7, 3, 9]));
      assert.deepEqual(b!.logits, a!.logits, `kv ${kvCacheDtype}: logits differ after import`);
      assert.equal(b!.token, a!.token);
    }
  });

  it("copyBlocks duplicates a block so a fork continues from the same state", async () => {
    const e = await openEngine();
    const prompt = tokens(20, 5); // blocks 0 (full) and 1 (4 tokens)
    await prefillLogits(e, prompt, blocks(0, 2));
    await e.copyBlocks(Int32Array.from([1]), Int32Array.from([2]));
    const next = Int32Array.from([42]);
    const [a] = await e.step([
      {
        tokens: next,
        startPos: 20,
        blockTable: Int32Array.from([0, 1]),
        sample: false,
        returnLogits: "last",
      },
    ]);
    const [b] = await e.step([
      {
        tokens: next,
        startPos: 20,
        blockTable: Int32Array.from([0, 2]),
        sample: false,
        returnLogits: "last",
      },
    ]);
    assert.deepEqual(b!.logits, a!.logits);
    const ex1 = await e.exportBlocks(Int32Array.from([1]));
    const ex2 = await e.exportBlocks(Int32Array.from([2]));
    assert.ok(ex1.equals(ex2), "the two forks wrote the same token at the same slot");
  });

  it("rejects bad block ids and wrongly sized import data", async () => {
    const e = await openEngine();
    await assert.rejects(
      e.exportBlocks(Int32Array.from([0, 64])),
      /exportBlocks blockIds\[1\] = 64 is out of range: valid block ids are 0\.\.63/,
    );
    await assert.rejects(
      e.importBlocks(Int32Array.from([1]), new Uint8Array(10)),
      /importBlocks data is 10 bytes, expected/,
    );
    await assert.rejects(
      e.copyBlocks(Int32Array.from([1, 2]), Int32Array.from([3])),
      /copyBlocks: src has 2 ids, dst 1/,
    );
    await assert.rejects(
      e.copyBlocks(Int32Array.from([-1]), Int32Array.from([3])),
      /copyBlocks src\[0\] = -1 is out of range/,
    );
  });
});
