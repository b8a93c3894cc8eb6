/**
 * Deterministic random weights for a preset: which tensors exist (HF names and shapes) and how
 * each is initialised.
 *
 * Every tensor draws from its own PRNG stream keyed by (seed, tensor name), so the bytes of one
 * tensor never depend on the others (sharding or reordering cannot change them).
 *
 * Scales are chosen so the random model behaves like a trained one numerically:
 * - RMSNorm weights 1 ± 0.2 (uniform): near 1 with some spread, so a kernel that ignores them fails.
 * - q/k: std 1.2/√hidden, so attention scores have std ≈ 1.4 (softmax neither flat nor one-hot).
 * - v, o, gate, up: std 1/√fan_in, down: std 1/√intermediate: each sublayer adds O(1) to the
 *   residual stream.
 * - embed_tokens: std 1 (untied). lm_head (or the tied embedding): std 3/√hidden, so with the
 *   final RMSNorm output at unit RMS a logit row has std ≈ 3 and greedy argmax gaps are far
 *   above 1e-5 numeric noise.
 * - Qwen2 q/k/v biases: std 0.3.
 * Uniform draws use half-width √3·std.
 */

import { RadixServeError } from "../errors/index.js";
import type { ModelPreset } from "./presets.js";
import { hashString32, Xoshiro128 } from "./prng.js";
import type { TensorEntry } from "./safetensors-writer.js";

export interface WeightSpec {
  name: string;
  shape: number[];
  /** Values are center ± halfWidth, uniform. */
  center: number;
  halfWidth: number;
}

const SQRT3 = Math.sqrt(3);

function uniform(name: string, shape: number[], std: number, center = 0): WeightSpec {
  return { name, shape, center, halfWidth: SQRT3 * std };
}

export function weightSpecs(p: ModelPreset): WeightSpec[] {
  const h = p.hiddenSize;
  const hd = h / p.numHeads;
  if (!Number.isInteger(hd))
    throw new RadixServeError("internal", `hidden size ${h} is not divisible by ${p.numHeads} heads`);
  if (p.numHeads % p.numKvHeads !== 0) {
    throw new RadixServeError(
      "internal",
      `${p.numHeads} heads are not a multiple of ${p.numKvHeads} KV heads`,
    );
  }
  const kv = p.numKvHeads * hd;
  const ffn = p.intermediateSize;
  const lmStd = 3 / Math.sqrt(h);
  const specs: WeightSpec[] = [
    uniform("model.embed_tokens.weight", [p.vocabSize, h], p.tieWordEmbeddings ? lmStd : 1),
  ];
  for (let l = 0; l < p.numLayers; l++) {
    const pre = `model.layers.${l}`;
    specs.push(uniform(`${pre}.input_layernorm.weight`, [h], 0.2 / SQRT3, 1));
    specs.push(uniform(`${pre}.self_attn.q_proj.weight`, [h, h], 1.2 / Math.sqrt(h)));
    specs.push(uniform(`${pre}.self_attn.k_proj.weight`, [kv, h], 1.2 / Math.sqrt(h)));
    specs.push(uniform(`${pre}.self_attn.v_proj.weight`, [kv, h], 1 / Math.sqrt(h)));
    if (p.qkvBias) {
      specs.push(uniform(`${pre}.self_attn.q_proj.bias`, [h], 0.3));
      specs.push(uniform(`${pre}.self_attn.k_proj.bias`, [kv], 0.3));
      specs.push(uniform(`${pre}.self_attn.v_proj.bias`, [kv], 0.3));
    }
    specs.push(uniform(`${pre}.self_attn.o_proj.weight`, [h, h], 1 / Math.sqrt(h)));
    specs.push(uniform(`${pre}.post_attention_layernorm.weight`, [h], 0.2 / SQRT3, 1));
    specs.push(uniform(`${pre}.mlp.gate_proj.weight`, [ffn, h], 1 / Math.sqrt(h)));
    specs.push(uniform(`${pre}.mlp.up_proj.weight`, [ffn, h], 1 / Math.sqrt(h)));
    specs.push(uniform(`${pre}.mlp.down_proj.weight`, [h, ffn], 1 / Math.sqrt(ffn)));
  }
  specs.push(uniform("model.norm.weight", [h], 0.2 / SQRT3, 1));
  if (!p.tieWordEmbeddings) specs.push(uniform("lm_head.weight", [p.vocabSize, h], lmStd));
  return specs;
}

/** The f32 values of one tensor for `seed`. */
export function generateWeight(spec: WeightSpec, seed: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  new Xoshiro128(seed, hashString32(spec.name)).fillUniform(out, spec.center, spec.halfWidth);
  return out;
}

export function toTensorEntry(spec: WeightSpec, dtype: TensorEntry["dtype"]): TensorEntry {
  return { name: spec.name, shape: spec.shape, dtype };
}
