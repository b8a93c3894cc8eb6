/**
 * Which tensors a Llama-family model needs, with their expected shapes and how tensor parallelism
 * splits them. Validates the safetensors headers against config.json and produces the plain
 * descriptors the native loader maps.
 */
import { EngineError } from "./errors.js";
import type { ModelConfig } from "./model-config.js";
import type { TensorDtype, TensorInfo } from "./safetensors.js";

/** 0 = whole tensor; 1 = column split (rows of W[out, in], zero-copy); 2 = row split (columns, copied). */
export const SPLIT_NONE = 0;
export const SPLIT_COLUMN = 1;
export const SPLIT_ROW = 2;
export type SplitKind = typeof SPLIT_NONE | typeof SPLIT_COLUMN | typeof SPLIT_ROW;

export interface TensorDescriptor extends TensorInfo {
  split: SplitKind;
  tpRank: number;
  tpSize: number;
}

export interface WeightPlan {
  tensors: TensorDescriptor[];
  /** The dtype of the big matrices (all must agree for the report; kernels handle each separately). */
  weightDtype: TensorDtype;
  /** Bytes this rank's weights occupy as stored. */
  weightBytes: number;
}

interface Want {
  name: string;
  shape: number[];
  split: SplitKind;
  optional?: boolean;
}

function wanted(c: ModelConfig): Want[] {
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const f = c.intermediateSize;
  const w: Want[] = [{ name: "model.embed_tokens.weight", shape: [c.vocabSize, h], split: SPLIT_NONE }];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    w.push(
      { name: `${p}input_layernorm.weight`, shape: [h], split: SPLIT_NONE },
      { name: `${p}post_attention_layernorm.weight`, shape: [h], split: SPLIT_NONE },
      { name: `${p}self_attn.q_proj.weight`, shape: [q, h], split: SPLIT_COLUMN },
      { name: `${p}self_attn.k_proj.weight`, shape: [kv, h], split: SPLIT_COLUMN },
      { name: `${p}self_attn.v_proj.weight`, shape: [kv, h], split: SPLIT_COLUMN },
      { name: `${p}self_attn.o_proj.weight`, shape: [h, q], split: SPLIT_ROW },
      { name: `${p}mlp.gate_proj.weight`, shape: [f, h], split: SPLIT_COLUMN },
      { name: `${p}mlp.up_proj.weight`, shape: [f, h], split: SPLIT_COLUMN },
      { name: `${p}mlp.down_proj.weight`, shape: [h, f], split: SPLIT_ROW },
    );
    // Biases: required when the config says so; otherwise picked up when present.
    const bias = (name: string, shape: number[], split: SplitKind, required: boolean) =>
      w.push({ name, shape, split, optional: !required });
    bias(`${p}self_attn.q_proj.bias`, [q], SPLIT_COLUMN, c.qkvBias);
    bias(`${p}self_attn.k_proj.bias`, [kv], SPLIT_COLUMN, c.qkvBias);
    bias(`${p}self_attn.v_proj.bias`, [kv], SPLIT_COLUMN, c.qkvBias);
    bias(`${p}self_attn.o_proj.bias`, [h], SPLIT_NONE, c.oBias);
    bias(`${p}mlp.gate_proj.bias`, [f], SPLIT_COLUMN, c.mlpBias);
    bias(`${p}mlp.up_proj.bias`, [f], SPLIT_COLUMN, c.mlpBias);
    bias(`${p}mlp.down_proj.bias`, [h], SPLIT_NONE, c.mlpBias);
  }
  w.push({ name: "model.norm.weight", shape: [h], split: SPLIT_NONE });
  if (!c.tieWordEmbeddings) w.push({ name: "lm_head.weight", shape: [c.vocabSize, h], split: SPLIT_NONE });
  return w;
}

function sliceBytes(d: TensorDescriptor): number {
  if (d.tpSize === 1 || d.split === SPLIT_NONE) return d.nbytes;
  return d.nbytes / d.tpSize;
}

/** Matches the model's tensors against config.json; throws an EngineError naming file and tensor. */
export function planWeights(
  config: ModelConfig,
  tensors: Map<string, TensorInfo>,
  tp: { rank: number; size: number } = { rank: 0, size: 1 },
): WeightPlan {
  if (
    config.numHeads % tp.size !== 0 ||
    config.numKvHeads % tp.size !== 0 ||
    config.intermediateSize % tp.size !== 0
  )
    throw new EngineError(
      "options_invalid",
      `tpSize ${tp.size} must divide num_attention_heads (${config.numHeads}), num_key_value_heads (${config.numKvHeads}) and intermediate_size (${config.intermediateSize})`,
    );
  const out: TensorDescriptor[] = [];
  const dtypes = new Set<TensorDtype>();
  for (const w of wanted(config)) {
    const t = tensors.get(w.name);
    if (!t) {
      if (w.optional) continue;
      const files = [...new Set([...tensors.values()].map((x) => x.file))].join(", ") || config.path;
      throw new EngineError(
        "model_invalid",
        `${files}: missing tensor ${w.name} (required by ${config.path})`,
      );
    }
    if (t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i]))
      throw new EngineError(
        "model_invalid",
        `${t.file}: tensor ${w.name} has shape [${t.shape.join(", ")}], config.json implies [${w.shape.join(", ")}]`,
      );
    if (w.shape.length === 2) dtypes.add(t.dtype);
    out.push({ ...t, split: w.split, tpRank: tp.rank, tpSize: tp.size });
  }
  const weightDtype = dtypes.has("f32") ? "f32" : dtypes.has("bf16") ? "bf16" : "f16";
  return { tensors: out, weightDtype, weightBytes: out.reduce((a, d) => a + sliceBytes(d), 0) };
}
