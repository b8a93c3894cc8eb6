/**
 * Model presets for the default-model maker: Llama-family shapes small enough for CPU tests,
 * each covering a feature the engine must get right (GQA, llama3 rope scaling, Qwen2 biases and
 * tied embeddings).
 */
import { RadixServeError } from "../errors/index.js";

export type ModelPresetName = "tiny" | "small" | "tiny-gqa" | "tiny-qwen2";
export type ModelDtype = "f32" | "bf16" | "f16";

export interface Llama3RopeScaling {
  rope_type: "llama3";
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

export interface ModelPreset {
  name: ModelPresetName;
  architecture: "LlamaForCausalLM" | "Qwen2ForCausalLM";
  modelType: "llama" | "qwen2";
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  intermediateSize: number;
  /** Rows of embed_tokens / lm_head. May exceed the tokenizer's size (Qwen pads it). */
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  /** q/k/v projections carry biases (Qwen2). */
  qkvBias: boolean;
  tieWordEmbeddings: boolean;
  /** Which chat template and special tokens the tokenizer files get. */
  chatFormat: "llama2" | "chatml";
}

const TINY: ModelPreset = {
  name: "tiny",
  architecture: "LlamaForCausalLM",
  modelType: "llama",
  hiddenSize: 288,
  numLayers: 6,
  numHeads: 6,
  numKvHeads: 6,
  intermediateSize: 768,
  vocabSize: 32000,
  maxPositionEmbeddings: 2048,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  qkvBias: false,
  tieWordEmbeddings: false,
  chatFormat: "llama2",
};

export const MODEL_PRESETS: Readonly<Record<ModelPresetName, ModelPreset>> = {
  tiny: TINY,
  small: {
    ...TINY,
    name: "small",
    hiddenSize: 768,
    numLayers: 12,
    numHeads: 12,
    numKvHeads: 12,
    intermediateSize: 2048,
  },
  // GQA (3 query heads per KV head) and llama3 rope scaling. original_max_position_embeddings is
  // kept small (256) on purpose: the scaled and smoothed frequency bands then rotate visibly
  // within a 130-token golden prompt, so a wrong scaling shows up in the logits.
  "tiny-gqa": {
    ...TINY,
    name: "tiny-gqa",
    numKvHeads: 2,
    ropeTheta: 500000,
    ropeScaling: {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 256,
    },
  },
  // Qwen2: q/k/v biases, tied embeddings, GQA 2:1, ChatML with added special tokens whose ids
  // lie past the base vocabulary, and a padded vocab_size (as real Qwen checkpoints have).
  "tiny-qwen2": {
    ...TINY,
    name: "tiny-qwen2",
    architecture: "Qwen2ForCausalLM",
    modelType: "qwen2",
    numKvHeads: 3,
    vocabSize: 32064,
    rmsNormEps: 1e-6,
    ropeTheta: 1000000,
    qkvBias: true,
    tieWordEmbeddings: true,
    chatFormat: "chatml",
  },
};

export function isModelPresetName(s: string): s is ModelPresetName {
  return Object.hasOwn(MODEL_PRESETS, s);
}

export function getModelPreset(name: string): ModelPreset {
  if (!isModelPresetName(name)) {
    throw new RadixServeError(
      "invalid_request",
      `unknown model preset "${name}"; expected one of: ${Object.keys(MODEL_PRESETS).join(", ")}`,
    );
  }
  return MODEL_PRESETS[name];
}

/** Parameter count (embedding counted once more when lm_head is untied). */
export function presetParamCount(p: ModelPreset): number {
  const hd = p.hiddenSize / p.numHeads;
  const kv = p.numKvHeads * hd;
  const attn =
    p.hiddenSize * p.hiddenSize * 2 + p.hiddenSize * kv * 2 + (p.qkvBias ? p.hiddenSize + 2 * kv : 0);
  const mlp = 3 * p.hiddenSize * p.intermediateSize;
  const layer = attn + mlp + 2 * p.hiddenSize;
  const emb = p.vocabSize * p.hiddenSize;
  return emb * (p.tieWordEmbeddings ? 1 : 2) + p.numLayers * layer + p.hiddenSize;
}
