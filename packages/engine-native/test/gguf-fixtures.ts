// Small random models written twice: as a GGUF file with quantized tensors (Q/K rows permuted the
// way llama.cpp's converter does for Llama) and as a Hugging Face directory holding the same values
// dequantized to f32 in HF's layout. The two must compute the same function: the GGUF tests load
// both and compare.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { f32ToBf16, f32ToF16, writeSafetensors } from "../../core/src/model/index.js";
import type { GgufMetadataEntry } from "../src/gguf/index.js";
import { writeGguf } from "../src/gguf/index.js";
import { nativeAddon } from "../src/native.js";

export interface FixtureSpec {
  arch: "llama" | "qwen2";
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  inter: number;
  vocab: number;
  /** ggml type of the projection matrices ("Q4_1", "Q4_K", "F16", ...). */
  matType: string;
  /** ggml type of the embedding (tied LM head). */
  embedType: string;
}

export const FIXTURE_DEFAULTS: FixtureSpec = {
  arch: "llama",
  hidden: 256,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  inter: 512,
  vocab: 384,
  matType: "Q4_1",
  embedType: "Q8_0",
};

/** Deterministic uniform values in [-scale, scale). */
function randoms(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) / 2 ** 24 - 0.5) * 2 * scale;
  }
  return out;
}

/** llama.cpp's Q/K permutation for `nHead` heads: row h*hd + 2i + j <- HF row h*hd + j*hd/2 + i. */
export function permuteRows(
  w: Float32Array,
  rows: number,
  cols: number,
  nHead: number,
  inverse = false,
): Float32Array {
  const hd = rows / nHead;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < hd / 2; i++)
      for (let j = 0; j < 2; j++) {
        const gguf = h * hd + 2 * i + j;
        const hf = h * hd + j * (hd / 2) + i;
        const [dst, src] = inverse ? [hf, gguf] : [gguf, hf];
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

/** Values in a ggml type's bytes, and those bytes read back as f32 (what any reader computes). */
function encode(
  type: string,
  x: Float32Array,
  rows: number,
  cols: number,
): { bytes: Uint8Array; values: Float32Array } {
  if (type === "F32") return { bytes: new Uint8Array(x.buffer.slice(0)), values: x };
  const a = nativeAddon();
  const dtype = type.toLowerCase();
  const plain = type === "F16" || type === "BF16";
  const bytes = plain ? plainBytes(dtype, x) : new Uint8Array(a.quantizeRows({ dtype, rows, cols, x }));
  return { bytes, values: a.dequantizeRows({ dtype, rows, cols, weight: bytes }) };
}

function plainBytes(dtype: string, x: Float32Array): Uint8Array {
  const h = dtype === "bf16" ? f32ToBf16(x) : f32ToF16(x);
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

const u32 = (value: number): GgufMetadataEntry => ({ type: "uint32", value });
const f32 = (value: number): GgufMetadataEntry => ({ type: "float32", value });
const str = (value: string): GgufMetadataEntry => ({ type: "string", value });

/**
 * Writes `<dir>/model.gguf` and the HF directory `<dir>/hf` of the same model. Returns both paths.
 * `extraMetadata` is merged over the generated metadata (for tests of refusals).
 */
export async function writeFixture(
  dir: string,
  spec: FixtureSpec,
  seed = 7,
  extraMetadata: Record<string, GgufMetadataEntry> = {},
): Promise<{ gguf: string; hf: string }> {
  const { arch, hidden: h, heads, kvHeads, inter, vocab } = spec;
  const hd = h / heads;
  const gguf: { name: string; shape: number[]; type: string; data: Uint8Array }[] = [];
  const hf = new Map<string, { shape: number[]; data: Float32Array }>();
  let n = seed;
  // One tensor: random HF values, stored in the GGUF (permuted for llama Q/K), read back into HF.
  const add = (ggufName: string, hfName: string, shape: number[], type: string, scale: number, perm = 0) => {
    const rows = shape.length === 2 ? shape[0]! : 1;
    const cols = shape.length === 2 ? shape[1]! : shape[0]!;
    const x = randoms(rows * cols, n++, scale);
    const stored = perm ? permuteRows(x, rows, cols, perm) : x;
    const { bytes, values } = encode(type, stored, rows, cols);
    gguf.push({ name: ggufName, shape, type, data: bytes });
    hf.set(hfName, { shape, data: perm ? permuteRows(values, rows, cols, perm, true) : values });
  };
  add("token_embd.weight", "model.embed_tokens.weight", [vocab, h], spec.embedType, 1);
  const permute = arch === "llama";
  for (let l = 0; l < spec.layers; l++) {
    const g = `blk.${l}.`;
    const p = `model.layers.${l}.`;
    add(`${g}attn_norm.weight`, `${p}input_layernorm.weight`, [h], "F32", 1);
    add(`${g}ffn_norm.weight`, `${p}post_attention_layernorm.weight`, [h], "F32", 1);
    add(`${g}attn_q.weight`, `${p}self_attn.q_proj.weight`, [h, h], spec.matType, 0.15, permute ? heads : 0);
    add(
      `${g}attn_k.weight`,
      `${p}self_attn.k_proj.weight`,
      [kvHeads * hd, h],
      spec.matType,
      0.15,
      permute ? kvHeads : 0,
    );
    add(`${g}attn_v.weight`, `${p}self_attn.v_proj.weight`, [kvHeads * hd, h], spec.matType, 0.1);
    add(`${g}attn_output.weight`, `${p}self_attn.o_proj.weight`, [h, h], spec.matType, 0.1);
    if (arch === "qwen2") {
      add(`${g}attn_q.bias`, `${p}self_attn.q_proj.bias`, [h], "F32", 0.2);
      add(`${g}attn_k.bias`, `${p}self_attn.k_proj.bias`, [kvHeads * hd], "F32", 0.2);
      add(`${g}attn_v.bias`, `${p}self_attn.v_proj.bias`, [kvHeads * hd], "F32", 0.2);
    }
    add(`${g}ffn_gate.weight`, `${p}mlp.gate_proj.weight`, [inter, h], spec.matType, 0.1);
    add(`${g}ffn_up.weight`, `${p}mlp.up_proj.weight`, [inter, h], spec.matType, 0.1);
    add(`${g}ffn_down.weight`, `${p}mlp.down_proj.weight`, [h, inter], spec.matType, 0.1);
  }
  add("output_norm.weight", "model.norm.weight", [h], "F32", 1);

  mkdirSync(join(dir, "hf"), { recursive: true });
  const ggufPath = join(dir, "model.gguf");
  const metadata: Record<string, GgufMetadataEntry> = {
    "general.architecture": str(arch),
    [`${arch}.context_length`]: u32(256),
    [`${arch}.embedding_length`]: u32(h),
    [`${arch}.feed_forward_length`]: u32(inter),
    [`${arch}.block_count`]: u32(spec.layers),
    [`${arch}.attention.head_count`]: u32(heads),
    [`${arch}.attention.head_count_kv`]: u32(kvHeads),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(1e-5),
    [`${arch}.rope.freq_base`]: f32(10000),
    "tokenizer.ggml.bos_token_id": u32(1),
    "tokenizer.ggml.eos_token_id": u32(2),
    ...extraMetadata,
  };
  writeGguf(ggufPath, metadata, gguf);
  const config = {
    architectures: [arch === "llama" ? "LlamaForCausalLM" : "Qwen2ForCausalLM"],
    model_type: arch,
    hidden_size: h,
    intermediate_size: inter,
    num_hidden_layers: spec.layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    vocab_size: vocab,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  writeFileSync(join(dir, "hf", "config.json"), JSON.stringify(config));
  const entries = [...hf].map(([name, t]) => ({ name, shape: t.shape, dtype: "F32" as const }));
  await writeSafetensors(join(dir, "hf", "model.safetensors"), entries, (t) => {
    const d = hf.get(t.name)!.data;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  });
  return { gguf: ggufPath, hf: join(dir, "hf") };
}
