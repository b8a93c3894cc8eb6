/**
 * A GGUF file as a model: its metadata turned into the engine's ModelConfig, its tensors renamed to
 * the Hugging Face names the weight plan expects (shapes outermost first), quantized types kept as
 * they are (the native side maps them and multiplies the blocks directly).
 *
 * Architectures: `llama` (Llama 2/3, Mistral, SmolLM2) and `qwen2`. llama.cpp's converter permutes
 * the rows of Llama's q_proj/k_proj so each head's rotary pairs sit side by side (elements 2i, 2i+1);
 * the engine applies rope in that layout (`ropeInterleaved`) instead of un-permuting the rows.
 * Qwen2 files keep HF's layout (llama.cpp runs them with its NEOX rope).
 */
import { EngineError } from "./errors.js";
import {
  type GgufFile,
  ggufInt,
  ggufNumber,
  ggufRequireInt,
  ggufRequireString,
  ggufString,
  ggufStringArray,
  readGguf,
} from "./gguf/index.js";
import type { ModelConfig } from "./model-config.js";
import type { TensorDtype, TensorInfo } from "./safetensors.js";

/** GGUF architectures served, with the HF architecture the engine runs them as. */
const ARCHITECTURES = {
  llama: { architecture: "LlamaForCausalLM", qkvBias: false, ropeInterleaved: true },
  qwen2: { architecture: "Qwen2ForCausalLM", qkvBias: true, ropeInterleaved: false },
} as const;

/** ggml type names the engine runs, with its dtype names. */
const GGML_DTYPES: Record<string, TensorDtype> = {
  F32: "f32",
  F16: "f16",
  BF16: "bf16",
  Q8_0: "q8_0",
  Q4_0: "q4_0",
  Q4_1: "q4_1",
  Q5_0: "q5_0",
  Q5_1: "q5_1",
  Q4_K: "q4_k",
  Q5_K: "q5_k",
  Q6_K: "q6_k",
};

const LAYER_TENSORS: Record<string, string> = {
  "attn_norm.weight": "input_layernorm.weight",
  "ffn_norm.weight": "post_attention_layernorm.weight",
  "attn_q.weight": "self_attn.q_proj.weight",
  "attn_k.weight": "self_attn.k_proj.weight",
  "attn_v.weight": "self_attn.v_proj.weight",
  "attn_output.weight": "self_attn.o_proj.weight",
  "attn_q.bias": "self_attn.q_proj.bias",
  "attn_k.bias": "self_attn.k_proj.bias",
  "attn_v.bias": "self_attn.v_proj.bias",
  "ffn_gate.weight": "mlp.gate_proj.weight",
  "ffn_up.weight": "mlp.up_proj.weight",
  "ffn_down.weight": "mlp.down_proj.weight",
};

const GLOBAL_TENSORS: Record<string, string> = {
  "token_embd.weight": "model.embed_tokens.weight",
  "output_norm.weight": "model.norm.weight",
  "output.weight": "lm_head.weight",
};

export interface GgufModel {
  file: GgufFile;
  config: ModelConfig;
  /** By Hugging Face name. */
  tensors: Map<string, TensorInfo>;
  /** Q/K rows hold rotary pairs interleaved (see the header). */
  ropeInterleaved: boolean;
}

function unsupported(path: string, problem: string): never {
  throw new EngineError("model_unsupported", `${path}: ${problem}`);
}

function renameTensor(name: string): string | null {
  const global = GLOBAL_TENSORS[name];
  if (global) return global;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const local = LAYER_TENSORS[m[2]!];
  return local ? `model.layers.${m[1]}.${local}` : null;
}

/** Reads a GGUF file's header and metadata and maps it onto the engine's model description. */
export function readGgufModel(path: string): GgufModel {
  const f = readGguf(path);
  const arch = ggufRequireString(f, "general.architecture");
  const spec = ARCHITECTURES[arch as keyof typeof ARCHITECTURES];
  if (!spec)
    unsupported(
      path,
      `architecture "${arch}" is not supported (supported: ${Object.keys(ARCHITECTURES).join(", ")})`,
    );
  // Tensor names and types first: a file of an unsupported type is refused before its config is read.
  const tensors = new Map<string, TensorInfo>();
  for (const t of f.tensors) {
    if (t.name === "rope_freqs.weight")
      unsupported(path, "tensor rope_freqs.weight (Llama 3.1 rope frequency factors) is not implemented");
    const name = renameTensor(t.name);
    if (!name) unsupported(path, `tensor ${t.name} is not part of a ${arch} model the engine runs`);
    const dtype = GGML_DTYPES[t.typeName];
    if (!dtype)
      unsupported(
        path,
        `tensor ${t.name} has type ${t.typeName}; supported: ${Object.keys(GGML_DTYPES).join(", ")}`,
      );
    tensors.set(name, { name, file: path, dtype, shape: t.shape, offset: t.offset, nbytes: t.nbytes });
  }
  const key = (k: string) => `${arch}.${k}`;
  const hiddenSize = ggufRequireInt(f, key("embedding_length"));
  const numHeads = ggufRequireInt(f, key("attention.head_count"));
  const numKvHeads = ggufInt(f, key("attention.head_count_kv")) ?? numHeads;
  const headDim = ggufInt(f, key("attention.key_length")) ?? hiddenSize / numHeads;
  const valueDim = ggufInt(f, key("attention.value_length")) ?? headDim;
  if (valueDim !== headDim)
    unsupported(
      path,
      `${key("attention.value_length")} = ${valueDim} differs from the key length ${headDim}`,
    );
  const ropeDims = ggufInt(f, key("rope.dimension_count")) ?? headDim;
  if (ropeDims !== headDim)
    unsupported(
      path,
      `${key("rope.dimension_count")} = ${ropeDims}: partial rotary (head_dim ${headDim}) is not implemented`,
    );
  const scaling = ggufString(f, key("rope.scaling.type"));
  if (scaling !== undefined && scaling !== "none")
    unsupported(path, `${key("rope.scaling.type")} = "${scaling}" is not implemented`);
  const experts = ggufInt(f, key("expert_count"));
  if (experts !== undefined && experts > 0)
    unsupported(path, `${key("expert_count")} = ${experts}: mixture-of-experts models are not implemented`);
  const slidingWindow = ggufInt(f, key("attention.sliding_window"));
  if (slidingWindow !== undefined && slidingWindow > 0)
    unsupported(
      path,
      `${key("attention.sliding_window")} = ${slidingWindow}: sliding-window attention is not implemented`,
    );

  const embed = tensors.get("model.embed_tokens.weight");
  if (!embed) throw new EngineError("model_invalid", `${path}: missing tensor token_embd.weight`);
  const vocabSize =
    ggufInt(f, key("vocab_size")) ?? ggufStringArray(f, "tokenizer.ggml.tokens")?.length ?? embed.shape[0]!;
  const eos = ggufInt(f, "tokenizer.ggml.eos_token_id");
  const eot = ggufInt(f, "tokenizer.ggml.eot_token_id");
  const eosTokenIds = [...new Set([eos, eot].filter((x): x is number => x !== undefined))];
  const config: ModelConfig = {
    path,
    architecture: spec.architecture,
    modelType: arch,
    vocabSize,
    hiddenSize,
    intermediateSize: ggufRequireInt(f, key("feed_forward_length")),
    numLayers: ggufRequireInt(f, key("block_count")),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: ggufRequireInt(f, key("context_length")),
    ropeTheta: ggufNumber(f, key("rope.freq_base")) ?? 10000,
    ropeScaling: null,
    rmsNormEps: ggufNumber(f, key("attention.layer_norm_rms_epsilon")) ?? 1e-5,
    tieWordEmbeddings: !tensors.has("lm_head.weight"),
    qkvBias: spec.qkvBias,
    oBias: false,
    mlpBias: false,
    torchDtype: null,
    bosTokenId: ggufInt(f, "tokenizer.ggml.bos_token_id") ?? null,
    eosTokenIds,
  };
  return { file: f, config, tensors, ropeInterleaved: spec.ropeInterleaved };
}
