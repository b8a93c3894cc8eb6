/**
 * Which tensors a Llama-family model needs, with their expected shapes and how tensor parallelism
 * splits them. Validates the safetensors headers against config.json and produces the plain
 * descriptors the native loader maps.
 */
import { EngineError } from "./errors.js";
import type { ModelConfig } from "./model-config.js";
import type { QuantDtype, TensorDtype, TensorInfo } from "./safetensors.js";

/** Values per block of each quantized type (a quantized row is whole blocks). */
const QUANT_BLOCK: Record<QuantDtype, number> = {
  q8_0: 32,
  q4_0: 32,
  q4_1: 32,
  q5_0: 32,
  q5_1: 32,
  q4_k: 256,
  q5_k: 256,
  q6_k: 256,
};
/** Bytes per block of each quantized type. */
const QUANT_BYTES: Record<QuantDtype, number> = {
  q8_0: 34,
  q4_0: 18,
  q4_1: 20,
  q5_0: 22,
  q5_1: 24,
  q4_k: 144,
  q5_k: 176,
  q6_k: 210,
};

/** 0 = whole tensor; 1 = column split (rows of W[out, in], zero-copy); 2 = row split (columns, copied). */
export const SPLIT_NONE = 0;
export const SPLIT_COLUMN = 1;
export const SPLIT_ROW = 2;
export type SplitKind = typeof SPLIT_NONE | typeof SPLIT_COLUMN | typeof SPLIT_ROW;

export interface TensorDescriptor extends TensorInfo {
  split: SplitKind;
  /** Quantize this tensor to this type at load time (--quantization). */
  quantize?: QuantDtype;
  tpRank: number;
  tpSize: number;
}

export interface WeightPlan {
  tensors: TensorDescriptor[];
  /** The dtype holding most of the big matrices' bytes (for the report; kernels handle each tensor's own). */
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

/** Matches the model's tensors against config.json; throws an EngineError naming file and tensor. */
/**
 * The type a plain matrix is quantized to under `--quantization q`: the embedding and LM head to
 * q8_0 (they set every logit), the projections to q, or to q8_0 where a row is not whole blocks of q.
 */
function quantizeTo(name: string, cols: number, q: QuantDtype): QuantDtype {
  if (name === "model.embed_tokens.weight" || name === "lm_head.weight") return cols % 32 === 0 ? "q8_0" : q;
  return cols % QUANT_BLOCK[q] === 0 ? q : "q8_0";
}

export function planWeights(
  config: ModelConfig,
  tensors: Map<string, TensorInfo>,
  tp: { rank: number; size: number } = { rank: 0, size: 1 },
  quantization?: QuantDtype,
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
  const dtypeBytes = new Map<TensorDtype, number>();
  let weightBytes = 0;
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
    const d: TensorDescriptor = { ...t, split: w.split, tpRank: tp.rank, tpSize: tp.size };
    let bytes = t.nbytes;
    if (quantization && w.shape.length === 2) {
      d.quantize = quantizeTo(w.name, w.shape[1]!, quantization);
      // What the quantized copy takes (the file's bytes are read once, at load).
      bytes = (w.shape[0]! * w.shape[1]! * QUANT_BYTES[d.quantize]) / QUANT_BLOCK[d.quantize];
    }
    if (w.shape.length === 2)
      dtypeBytes.set(d.quantize ?? t.dtype, (dtypeBytes.get(d.quantize ?? t.dtype) ?? 0) + bytes);
    weightBytes += d.tpSize === 1 || d.split === SPLIT_NONE ? bytes : bytes / d.tpSize;
    out.push(d);
  }
  const weightDtype = [...dtypeBytes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "f32";
  return { tensors: out, weightDtype, weightBytes };
}
