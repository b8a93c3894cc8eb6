/**
 * config.json values that would change the model's arithmetic in ways the engine does not
 * implement. Each one present with a non-neutral value stops the load with one line naming the key
 * and its value; serving such a model anyway would give wrong answers that look right.
 *
 * Rope types and partial rotary factors are checked where rope is read (rope-config.ts). Keys the
 * engine reads, and keys that do not change inference arithmetic, are listed in the package README.
 */
import { EngineError } from "./errors.js";

type Json = Record<string, unknown>;

function refuse(path: string, key: string, value: unknown, why: string): never {
  throw new EngineError(
    "model_unsupported",
    `${path}: ${key} = ${JSON.stringify(value)} is not supported (${why})`,
  );
}

const isSet = (v: unknown) => v !== undefined && v !== null && v !== false;

/** Keys whose mere presence with a value (not null/false) changes the math. */
const REFUSED_WHEN_SET: [key: string, why: string][] = [
  ["attn_logit_softcapping", "attention logit soft-capping is not implemented"],
  ["final_logit_softcapping", "final logit soft-capping is not implemented"],
  ["quantization_config", "pre-quantized checkpoints are not loaded; use the unquantized weights"],
  ["embedding_multiplier", "embedding scaling is not implemented"],
  ["logits_scaling", "logit scaling is not implemented"],
  ["residual_multiplier", "residual scaling is not implemented"],
  ["attention_multiplier", "attention scaling other than 1/sqrt(head_dim) is not implemented"],
  ["attention_chunk_size", "chunked attention is not implemented"],
  ["no_rope_layers", "layers without rope are not implemented"],
  ["use_qk_norm", "q/k normalization is not implemented"],
  ["qk_layernorm", "q/k normalization is not implemented"],
];

/**
 * Throws for the first unimplemented value of config.json `c` (read from `path`).
 * `maxPositionEmbeddings` is the context the model is served at: a sliding window at least that
 * long never drops a position, so it does not change the math.
 */
export function refuseUnimplemented(
  path: string,
  c: Json,
  architecture: string,
  maxPositionEmbeddings: number,
): void {
  const act = c["hidden_act"] ?? c["hidden_activation"] ?? "silu";
  if (act !== "silu")
    refuse(
      path,
      c["hidden_act"] !== undefined ? "hidden_act" : "hidden_activation",
      act,
      'only "silu" is implemented',
    );
  for (const [key, why] of REFUSED_WHEN_SET) if (isSet(c[key])) refuse(path, key, c[key], why);

  // Qwen2 writes sliding_window always and applies it only with use_sliding_window; Llama and
  // Mistral apply a non-null sliding_window.
  const windowOn =
    architecture === "Qwen2ForCausalLM" ? c["use_sliding_window"] === true : isSet(c["sliding_window"]);
  const window = c["sliding_window"];
  if (windowOn && !(typeof window === "number" && window >= maxPositionEmbeddings))
    refuse(
      path,
      architecture === "Qwen2ForCausalLM" ? "use_sliding_window" : "sliding_window",
      architecture === "Qwen2ForCausalLM" ? true : window,
      `sliding-window attention is not implemented; window ${JSON.stringify(window)} < context ${maxPositionEmbeddings}`,
    );
  const layerTypes = c["layer_types"];
  if (Array.isArray(layerTypes)) {
    const other = layerTypes.find((t) => t !== "full_attention");
    if (other !== undefined)
      refuse(path, "layer_types", other, 'only "full_attention" layers are implemented');
  } else if (layerTypes !== undefined && layerTypes !== null) {
    refuse(path, "layer_types", layerTypes, "must be a list of layer types");
  }
}
