// Bad input to the engine is a clear, catchable error naming the field (never a crash or hang).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EngineError, loadEngine } from "../src/index.js";
import { blocks, openEngine, testModel, tokens } from "./helpers.js";

describe("engine step input errors", () => {
  it("rejects block ids out of range and block tables that do not cover the positions", async () => {
    const e = await openEngine();
    await assert.rejects(
      e.step([{ tokens: tokens(3, 1), startPos: 0, blockTable: Int32Array.from([64]), sample: true }]),
      (err: unknown) =>
        err instanceof EngineError &&
        err.code === "input_invalid" &&
        /seqs\[0\]\.blockTable\[0\] = 64 is out of range: valid block ids are 0\.\.63/.test(err.message),
    );
    await assert.rejects(
      e.step([{ tokens: tokens(20, 1), startPos: 0, blockTable: Int32Array.from([0]), sample: true }]),
      /seqs\[0\]\.blockTable has 1 blocks but positions up to 19 need 2/,
    );
  });

  it("rejects positions past the context length and bad token ids", async () => {
    const e = await openEngine();
    const table = blocks(0, 64);
    await assert.rejects(
      e.step([{ tokens: tokens(2, 1), startPos: 2047, blockTable: table, sample: true }]),
      /positions 2047\.\.2048 go past the context length \(max_position_embeddings 2048\)/,
    );
    await assert.rejects(
      e.step([{ tokens: Int32Array.from([5, 32000]), startPos: 0, blockTable: table, sample: true }]),
      /seqs\[0\]\.tokens\[1\] = 32000 is not a token id \(vocabulary size 32000\)/,
    );
    await assert.rejects(
      e.step([{ tokens: new Int32Array(0), startPos: 0, blockTable: table, sample: true }]),
      /seqs\[0\]\.tokens is empty/,
    );
    await assert.rejects(
      e.step([{ tokens: [1, 2] as unknown as Int32Array, startPos: 0, blockTable: table, sample: true }]),
      /seqs\[0\]\.tokens must be an Int32Array/,
    );
  });

  it("rejects bad sampling parameters and two sequences writing one block", async () => {
    const e = await openEngine();
    const seq = { tokens: tokens(3, 1), startPos: 0, blockTable: blocks(0, 1), sample: true };
    await assert.rejects(
      e.step([{ ...seq, sampling: { topP: 0 } }]),
      /seqs\[0\]\.sampling\.topP = 0 is invalid/,
    );
    await assert.rejects(e.step([{ ...seq, sampling: { temperature: -1 } }]), /temperature = -1 is invalid/);
    await assert.rejects(e.step([{ ...seq, sampling: { logprobs: 21 } }]), /logprobs = 21 is invalid/);
    await assert.rejects(
      e.step([seq, { ...seq }]),
      /seqs\[1\] writes KV block 0, which seqs\[0\] also writes/,
    );
    // The engine still works after rejected calls.
    const [o] = await e.step([seq]);
    assert.ok(o!.token >= 0);
  });

  it("a freed engine rejects every call, and calls queued before free() still complete", async () => {
    const e = await loadEngine({ modelPath: await testModel(), kvCacheBlocks: 8, threads: 2 });
    const pending = e.step([{ tokens: tokens(5, 1), startPos: 0, blockTable: blocks(0, 1), sample: true }]);
    e.free();
    const [o] = await pending;
    assert.ok(o!.token >= 0);
    const seq = { tokens: tokens(1, 1), startPos: 0, blockTable: blocks(0, 1), sample: true };
    await assert.rejects(
      e.step([seq]),
      (err: unknown) => err instanceof EngineError && err.code === "engine_freed",
    );
    await assert.rejects(e.exportBlocks(blocks(0, 1)), /engine has been freed/);
    await assert.rejects(e.importBlocks(blocks(0, 1), new Uint8Array(0)), /engine has been freed/);
    await assert.rejects(e.copyBlocks(blocks(0, 1), blocks(1, 1)), /engine has been freed/);
    e.free(); // idempotent
  });
});
