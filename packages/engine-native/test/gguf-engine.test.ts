// GGUF models end to end: every supported tensor type, Llama's permuted Q/K rows, Qwen2 biases, tensor
// parallelism on quantized weights, --quantization of an HF checkpoint, and the one-line refusals.
// Each GGUF fixture has a twin HF checkpoint holding its dequantized values (gguf-fixtures.ts): the
// exact path must match the twin, the fast path must give the exact path's greedy tokens.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type Engine, type EngineOptions, loadEngine, writeGguf } from "../src/index.js";
import { FIXTURE_DEFAULTS, type FixtureSpec, writeFixture } from "./gguf-fixtures.js";
import { argmax, blocks, maxAbsDiff, prefillLogits, scratchDir, tokens } from "./helpers.js";

const engines: Engine[] = [];
after(() => {
  for (const e of engines) e.free();
});

async function open(modelPath: string, opts: Partial<EngineOptions> = {}): Promise<Engine> {
  const e = await loadEngine({ modelPath, kvCacheBlocks: 32, threads: 2, ...opts });
  engines.push(e);
  return e;
}

/** Greedy tokens after `prompt`, decoding one token per step. */
async function greedy(e: Engine, prompt: Int32Array, n: number): Promise<number[]> {
  const table = blocks(0, 32);
  const [first] = await e.step([{ tokens: prompt, startPos: 0, blockTable: table, sample: true }]);
  const out = [first!.token];
  for (let i = 1; i < n; i++) {
    const [o] = await e.step([
      {
        tokens: Int32Array.of(out.at(-1)!),
        startPos: prompt.length + i - 1,
        blockTable: table,
        sample: true,
      },
    ]);
    out.push(o!.token);
  }
  return out;
}

function fixture(name: string, spec: Partial<FixtureSpec>, extra = {}) {
  return writeFixture(scratchDir(name), { ...FIXTURE_DEFAULTS, ...spec }, 7, extra);
}

// Rows of 288 values are 9 blocks of 32 (an odd count: the kernels' tail path); K types need 256.
const CASES: { type: string; hidden: number; inter: number }[] = [
  { type: "Q4_1", hidden: 288, inter: 576 },
  { type: "Q8_0", hidden: 288, inter: 576 },
  { type: "Q4_0", hidden: 288, inter: 576 },
  { type: "Q5_0", hidden: 288, inter: 576 },
  { type: "Q5_1", hidden: 288, inter: 576 },
  { type: "Q4_K", hidden: 256, inter: 512 },
  { type: "Q5_K", hidden: 256, inter: 512 },
  { type: "Q6_K", hidden: 256, inter: 512 },
  { type: "F16", hidden: 256, inter: 512 },
  { type: "BF16", hidden: 256, inter: 512 },
];

describe("GGUF llama models by tensor type", () => {
  for (const c of CASES) {
    it(`${c.type}: exact path = the HF twin within 1e-4; fast path within 1e-3 and the same greedy tokens`, async () => {
      const f = await fixture(c.type, { matType: c.type, hidden: c.hidden, inter: c.inter });
      const hf = await open(f.hf);
      const exact = await open(f.gguf, { quantExact: true });
      const fast = await open(f.gguf);
      assert.equal(fast.info.weightDtype, c.type.toLowerCase());
      const prompt = tokens(21, 5, FIXTURE_DEFAULTS.vocab);
      const lh = await prefillLogits(hf, prompt, blocks(0, 32));
      const le = await prefillLogits(exact, prompt, blocks(0, 32));
      const lf = await prefillLogits(fast, prompt, blocks(0, 32));
      assert.ok(maxAbsDiff(lh, le) < 1e-4, `exact vs HF twin: ${maxAbsDiff(lh, le)}`);
      assert.ok(maxAbsDiff(le, lf) < 1e-3, `fast vs exact: ${maxAbsDiff(le, lf)}`);
      assert.deepEqual(await greedy(fast, prompt, 12), await greedy(exact, prompt, 12));
    });
  }
});

describe("GGUF files", () => {
  it("qwen2 (q/k/v biases, HF rotary layout) matches its HF twin", async () => {
    const f = await fixture("qwen2", { arch: "qwen2", matType: "Q4_K" });
    const hf = await open(f.hf);
    const fast = await open(f.gguf);
    const prompt = tokens(17, 9, FIXTURE_DEFAULTS.vocab);
    const d = maxAbsDiff(
      await prefillLogits(hf, prompt, blocks(0, 32)),
      await prefillLogits(fast, prompt, blocks(0, 32)),
    );
    assert.ok(d < 1e-3, `fast vs HF twin: ${d}`);
  });

  it("a batch of 12 prompts (the dequantized-panel path) gives each prompt's own logits", async () => {
    const f = await fixture("batch", { matType: "Q4_1", hidden: 288, inter: 576 });
    const e = await open(f.gguf);
    const prompts = Array.from({ length: 12 }, (_, i) => tokens(1, 100 + i, FIXTURE_DEFAULTS.vocab));
    const alone = [];
    for (const [i, p] of prompts.entries()) alone.push(await prefillLogits(e, p, blocks(i, 1)));
    const out = await e.step(
      prompts.map((p, i) => ({
        tokens: p,
        startPos: 0,
        blockTable: blocks(i, 1),
        sample: false,
        returnLogits: "last" as const,
      })),
    );
    for (const [i, o] of out.entries()) assert.ok(maxAbsDiff(o!.logits!, alone[i]!) < 1e-4, `prompt ${i}`);
  });

  it("tensor parallelism on quantized weights: tp 2 = tp 1; a split off block boundaries is refused by name", async () => {
    const f = await fixture("tp", { matType: "Q4_1", hidden: 256, inter: 512 });
    const prompt = tokens(13, 3, FIXTURE_DEFAULTS.vocab);
    const one = await prefillLogits(await open(f.gguf), prompt, blocks(0, 32));
    const two = await prefillLogits(await open(f.gguf, { tpSize: 2 }), prompt, blocks(0, 32));
    assert.ok(maxAbsDiff(one, two) < 1e-4, `tp2 vs tp1: ${maxAbsDiff(one, two)}`);
    // Q4_K rows of o_proj (256 values = one block) cannot be halved.
    const k = await fixture("tp-k", { matType: "Q4_K" });
    await assert.rejects(
      loadEngine({ modelPath: k.gguf, kvCacheBlocks: 8, threads: 2, tpSize: 2 }),
      /self_attn\.o_proj\.weight \[256, 256\] \(q4_k, blocks of 256\) cannot split its 256 columns into 2/,
    );
  });

  it("takes a directory holding one .gguf file; refuses one holding two", async () => {
    const f = await fixture("dir", { matType: "Q8_0", hidden: 288, inter: 576 });
    const dir = scratchDir("gguf-dir");
    copyFileSync(f.gguf, join(dir, "m.gguf"));
    const e = await open(dir);
    assert.equal(e.info.architecture, "LlamaForCausalLM");
    copyFileSync(f.gguf, join(dir, "other.gguf"));
    await assert.rejects(
      loadEngine({ modelPath: dir, kvCacheBlocks: 8 }),
      /holds 2 GGUF files \(.*\); pass --model-path/,
    );
  });

  it("refuses an unsupported architecture, tensor type and rope scaling in one line naming the file", async () => {
    const f = await fixture(
      "arch",
      { matType: "Q8_0", hidden: 288, inter: 576 },
      {
        "general.architecture": { type: "string", value: "gpt2" },
      },
    );
    await assert.rejects(
      loadEngine({ modelPath: f.gguf, kvCacheBlocks: 8 }),
      (e: Error) => e.message.startsWith(f.gguf) && /architecture "gpt2" is not supported/.test(e.message),
    );
    const dir = scratchDir("q2k");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "q2k.gguf");
    writeGguf(path, { "general.architecture": { type: "string", value: "llama" } }, [
      { name: "token_embd.weight", shape: [4, 256], type: "Q2_K", data: new Uint8Array(4 * 84) },
    ]);
    await assert.rejects(
      loadEngine({ modelPath: path, kvCacheBlocks: 8 }),
      /tensor token_embd\.weight has type Q2_K; supported: /,
    );
    const y = await fixture(
      "yarn",
      { matType: "Q8_0", hidden: 288, inter: 576 },
      {
        "llama.rope.scaling.type": { type: "string", value: "yarn" },
      },
    );
    await assert.rejects(
      loadEngine({ modelPath: y.gguf, kvCacheBlocks: 8 }),
      /llama\.rope\.scaling\.type = "yarn" is not implemented/,
    );
  });
});

describe("quantization of an HF checkpoint at load time", () => {
  it("q8_0 stays close to the f32 model; q4_k quantizes the projections; bad values are refused", async () => {
    const f = await fixture("quant", { matType: "F32" });
    const prompt = tokens(19, 11, FIXTURE_DEFAULTS.vocab);
    const ref = await prefillLogits(await open(f.hf), prompt, blocks(0, 32));
    const q8 = await open(f.hf, { quantization: "q8_0" });
    assert.equal(q8.info.weightDtype, "q8_0");
    const l8 = await prefillLogits(q8, prompt, blocks(0, 32));
    assert.ok(maxAbsDiff(ref, l8) < 0.05, `q8_0 vs f32: ${maxAbsDiff(ref, l8)}`);
    assert.equal(argmax(l8), argmax(ref));
    const q4k = await open(f.hf, { quantization: "q4_k" });
    assert.equal(q4k.info.weightDtype, "q4_k");
    assert.ok(q4k.info.weightBytes < q8.info.weightBytes);
    await assert.rejects(
      loadEngine({ modelPath: f.hf, kvCacheBlocks: 8, quantization: "q3_k" as never }),
      /quantization 'q3_k' must be one of q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k/,
    );
    await assert.rejects(
      loadEngine({ modelPath: f.gguf, kvCacheBlocks: 8, quantization: "q8_0" }),
      /is a GGUF file, already quantized/,
    );
  });
});
