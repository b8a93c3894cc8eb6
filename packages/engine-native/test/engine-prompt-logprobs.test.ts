// Prompt logprobs: the log-probability of each given next token, computed from the prefill's own
// rows, equals the log softmax of the full logits of the same rows (the reference), across chunks,
// beside a sampled token and in a batch; rows not asked are null; bad targets are refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Engine, PromptLogprob } from "../src/index.js";
import { blocks, openEngine, tokens } from "./helpers.js";

/** log softmax of row `row` of [rows, vocab] logits at every token: the reference. */
function logSoftmaxRow(logits: Float32Array, vocab: number, row: number): Float64Array {
  const r = logits.subarray(row * vocab, (row + 1) * vocab);
  let max = -Infinity;
  for (const x of r) max = Math.max(max, x);
  let sum = 0;
  for (const x of r) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(r, (x) => x - lse);
}

/** Targets for `prompt[0..n)`: row j predicts prompt[j + 1]; rows before `from` and the last are not asked. */
function targetsOf(prompt: Int32Array, from: number): Int32Array {
  return Int32Array.from(prompt, (_, j) => (j + 1 >= from && j + 1 < prompt.length ? prompt[j + 1]! : -1));
}

async function allLogits(e: Engine, prompt: Int32Array, table: Int32Array): Promise<Float32Array> {
  const [o] = await e.step([
    { tokens: prompt, startPos: 0, blockTable: table, sample: false, returnLogits: "all" },
  ]);
  return o!.logits!;
}

function assertMatchesReference(
  got: (PromptLogprob | null)[],
  prompt: Int32Array,
  from: number,
  logits: Float32Array,
  vocab: number,
  top: number,
  tol: number,
): void {
  assert.equal(got.length, prompt.length);
  for (let j = 0; j < prompt.length; j++) {
    const lp = got[j];
    if (j + 1 < from || j + 1 >= prompt.length) {
      assert.equal(lp, null, `row ${j} was not asked`);
      continue;
    }
    const ref = logSoftmaxRow(logits, vocab, j);
    assert.ok(lp, `row ${j} was asked`);
    assert.equal(lp.token, prompt[j + 1]);
    assert.ok(
      Math.abs(lp.logprob - ref[prompt[j + 1]!]!) < tol,
      `row ${j}: ${lp.logprob} vs ${ref[prompt[j + 1]!]}`,
    );
    assert.equal(lp.top.length, top);
    const order = Array.from(ref.keys()).sort((a, b) => ref[b]! - ref[a]! || a - b);
    for (let k = 0; k < top; k++) {
      assert.equal(lp.top[k]!.token, order[k], `row ${j} alternative ${k}`);
      assert.ok(Math.abs(lp.top[k]!.logprob - ref[order[k]!]!) < tol);
    }
  }
}

describe("engine prompt logprobs", () => {
  it("equal the log softmax of the full logits, from a start offset, with alternatives", async () => {
    const e = await openEngine();
    const prompt = tokens(40, 7);
    const ref = await allLogits(e, prompt, blocks(0, 3));
    const [o] = await e.step([
      {
        tokens: prompt,
        startPos: 0,
        blockTable: blocks(10, 3),
        sample: false,
        promptLogprobs: { targets: targetsOf(prompt, 5), top: 3 },
      },
    ]);
    assert.equal(o!.logits, undefined, "no raw logits were asked");
    // Same rows, same step shape: the same arithmetic as the reference.
    assertMatchesReference(o!.promptLogprobs!, prompt, 5, ref, e.info.vocabSize, 3, 1e-5);
  });

  it("work across prefill chunks, beside sampling, in a batch with another sequence", async () => {
    const e = await openEngine();
    const prompt = tokens(36, 11);
    const ref = await allLogits(e, prompt, blocks(0, 3));
    const targets = targetsOf(prompt, 1);
    const first = await e.step([
      {
        tokens: prompt.subarray(0, 20),
        startPos: 0,
        blockTable: blocks(20, 2),
        sample: false,
        promptLogprobs: { targets: targets.slice(0, 20) },
      },
      { tokens: tokens(8, 3), startPos: 0, blockTable: blocks(40, 1), sample: true },
    ]);
    const second = await e.step([
      {
        tokens: prompt.subarray(20),
        startPos: 20,
        blockTable: blocks(20, 3),
        sample: true,
        promptLogprobs: { targets: targets.slice(20) },
      },
    ]);
    const got = [...first[0]!.promptLogprobs!, ...second[0]!.promptLogprobs!];
    // Other chunk and batch shapes sum in another order: within 1e-4.
    assertMatchesReference(got, prompt, 1, ref, e.info.vocabSize, 0, 1e-4);
    const [plain] = await e.step([{ tokens: prompt, startPos: 0, blockTable: blocks(50, 3), sample: true }]);
    assert.equal(second[0]!.token, plain!.token, "asking prompt logprobs does not change the sampled token");
    assert.equal(plain!.promptLogprobs, undefined);
  });

  it("refuses targets of the wrong length or out of the vocabulary", async () => {
    const e = await openEngine();
    const prompt = tokens(4, 2);
    const base = { tokens: prompt, startPos: 0, blockTable: blocks(0, 1), sample: false };
    await assert.rejects(
      e.step([{ ...base, promptLogprobs: { targets: new Int32Array(3) } }]),
      /promptLogprobs.targets has 3 entries for 4 tokens/,
    );
    await assert.rejects(
      e.step([{ ...base, promptLogprobs: { targets: Int32Array.of(-1, -1, 1 << 20, -1) } }]),
      /promptLogprobs.targets\[2\] = 1048576 is neither -1 nor a token id/,
    );
  });
});
