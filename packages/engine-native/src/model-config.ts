/**
 * config.json of a Hugging Face Llama-family model, parsed into a plain typed object.
 * The worker and router use it for the context length, vocabulary and EOS ids; the engine uses it
 * to know which tensors to expect and how to run them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "./errors.js";
import { type RopeScaling, readRopeConfig } from "./rope-config.js";
import { refuseUnimplemented } from "./unimplemented-config.js";

export type { RopeScaling } from "./rope-config.js";

export const SUPPORTED_ARCHITECTURES = [
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "Qwen2ForCausalLM",
] as const;

export interface ModelConfig {
  /** Absolute or relative path of the config.json read. */
  path: string;
  architecture: (typeof SUPPORTED_ARCHITECTURES)[number];
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2 always; Llama when attention_bias). */
  qkvBias: boolean;
  /** o_proj has a bias (Llama attention_bias). */
  oBias: boolean;
  /** gate/up/down have biases (Llama mlp_bias). */
  mlpBias: boolean;
  /** config.torch_dtype (transformers 4) or config.dtype (5), informational ("float32", "bfloat16", ...); the weights' own dtype wins. */
  torchDtype: string | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function fail(path: string, problem: string): never {
  throw new EngineError("model_invalid", `${path}: ${problem}`);
}

function int(c: Json, path: string, key: string, fallback?: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
    fail(path, `"${key}" must be a positive integer (got ${JSON.stringify(c[key])})`);
  return v;
}

function float(c: Json, path: string, key: string, fallback: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    fail(path, `"${key}" must be a positive number (got ${JSON.stringify(c[key])})`);
  return v;
}

function stringOf(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function idList(v: unknown): number[] {
  if (typeof v === "number" && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number" && Number.isInteger(x));
  return [];
}

/** Reads and validates `<dir>/config.json`. Throws an EngineError naming the file and the problem. */
export function readModelConfig(dir: string): ModelConfig {
  const path = join(dir, "config.json");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new EngineError(
      "model_invalid",
      `${path}: cannot read the model config (${(e as Error).message})`,
      {
        cause: e,
      },
    );
  }
  let c: Json;
  try {
    c = JSON.parse(text) as Json;
  } catch (e) {
    throw new EngineError("model_invalid", `${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof c !== "object" || c === null || Array.isArray(c)) fail(path, "must hold a JSON object");
  const archs = c["architectures"];
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (!SUPPORTED_ARCHITECTURES.includes(arch as (typeof SUPPORTED_ARCHITECTURES)[number]))
    throw new EngineError(
      "model_unsupported",
      `${path}: architecture ${JSON.stringify(arch)} is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`,
    );
  const architecture = arch as ModelConfig["architecture"];
  const isQwen2 = architecture === "Qwen2ForCausalLM";
  const hiddenSize = int(c, path, "hidden_size");
  const numHeads = int(c, path, "num_attention_heads");
  const numKvHeads = int(c, path, "num_key_value_heads", numHeads);
  const headDim =
    c["head_dim"] === undefined || c["head_dim"] === null ? hiddenSize / numHeads : int(c, path, "head_dim");
  if (!Number.isInteger(headDim) || headDim % 2 !== 0)
    fail(path, `head_dim ${headDim} must be an even integer (hidden_size / num_attention_heads)`);
  if (numHeads % numKvHeads !== 0)
    fail(path, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const attentionBias = c["attention_bias"] === true;
  const maxPositionEmbeddings = int(c, path, "max_position_embeddings", 2048);
  refuseUnimplemented(path, c, architecture, maxPositionEmbeddings);
  const rope = readRopeConfig(path, c);
  return {
    path,
    architecture,
    modelType: typeof c["model_type"] === "string" ? (c["model_type"] as string) : "llama",
    vocabSize: int(c, path, "vocab_size"),
    hiddenSize,
    intermediateSize: int(c, path, "intermediate_size"),
    numLayers: int(c, path, "num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings,
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    rmsNormEps: float(c, path, "rms_norm_eps", 1e-6),
    tieWordEmbeddings: c["tie_word_embeddings"] === true,
    qkvBias: isQwen2 || attentionBias,
    oBias: !isQwen2 && attentionBias,
    mlpBias: c["mlp_bias"] === true,
    torchDtype: stringOf(c["torch_dtype"]) ?? stringOf(c["dtype"]),
    bosTokenId: typeof c["bos_token_id"] === "number" ? (c["bos_token_id"] as number) : null,
    eosTokenIds: idList(c["eos_token_id"]),
  };
}
