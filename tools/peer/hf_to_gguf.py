#!/usr/bin/env python3
"""Converts one of RadixServe's Hugging Face model directories to GGUF for llama.cpp.

The directories are the ones `makeModel` writes (config.json, model.safetensors or a sharded
model.safetensors.index.json, tokenizer.json): Llama/Mistral (GQA, llama3 rope scaling) and
Qwen2 (q/k/v biases, tied embeddings). The output is what llama.cpp's own converter would write
for such a model, built with the `gguf` package's GGUFWriter:

  - arch metadata: context/embedding/feed-forward length, block count, head counts, key/value
    length, rope dimension count and base, rms eps, vocab size, file type;
  - tokenizer metadata from tokenizer.json: tokenizer.ggml.model "llama" (SentencePiece-style
    BPE with byte fallback), tokens, scores, token types, bos/eos/unk ids, add_bos, space prefix;
  - tensors under llama.cpp's names, with the q/k row permutation described in `rope_permute`.

Usage (see tools/peer/README.md):
  python tools/peer/hf_to_gguf.py MODEL_DIR OUT.gguf [--outtype f32|f16|bf16|auto]

Weights are read straight from the safetensors bytes (numpy has no bfloat16, so bf16 tensors are
handled as their raw 16-bit patterns): bf16 -> bf16 and f16 -> f16 copy the exact bits;
f32 -> f16/bf16 round to nearest even. 1-D tensors (norms, biases, rope factors) stay f32, as
llama.cpp's converter keeps them.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np

import gguf

# GGUF token types (llama.cpp's llama_token_type).
TOKEN_NORMAL = 1
TOKEN_UNKNOWN = 2
TOKEN_CONTROL = 3
TOKEN_USER_DEFINED = 4
TOKEN_UNUSED = 5
TOKEN_BYTE = 6

# HF architecture -> (GGUF arch, whether q/k rows need the rotate_half -> interleaved permutation).
# llama.cpp runs Llama with "normal" rope (rotates adjacent pairs) and Qwen2 with NeoX rope
# (rotates halves, HF's own layout), so only Llama-family weights are permuted.
ARCHES = {
    "LlamaForCausalLM": ("llama", True),
    "MistralForCausalLM": ("llama", True),
    "Qwen2ForCausalLM": ("qwen2", False),
}

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


class ConversionError(Exception):
    """A model directory this converter cannot turn into GGUF; the message says why."""


def read_safetensors(model_dir: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Maps tensor name -> (safetensors dtype, read-only memory-mapped array), over all shards."""
    index = model_dir / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (model_dir / "model.safetensors").exists():
        files = ["model.safetensors"]
    else:
        raise ConversionError(f"{model_dir}: no model.safetensors or model.safetensors.index.json")
    tensors: dict[str, tuple[str, np.ndarray]] = {}
    for name in files:
        path = model_dir / name
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
        for key, meta in header.items():
            if key == "__metadata__":
                continue
            dtype = meta["dtype"]
            if dtype not in SAFETENSORS_DTYPES:
                raise ConversionError(f"{path}: tensor {key} has unsupported dtype {dtype}")
            begin, end = meta["data_offsets"]
            arr = data[begin:end].view(SAFETENSORS_DTYPES[dtype]).reshape(meta["shape"])
            tensors[key] = (dtype, arr)
    return tensors


def to_f32(dtype: str, arr: np.ndarray) -> np.ndarray:
    if dtype == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr.astype(np.float32)


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even f32 -> bf16 bit patterns (what makeModel and torch do); NaN stays NaN."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


def encode(dtype: str, arr: np.ndarray, outtype: str) -> tuple[np.ndarray, gguf.GGMLQuantizationType | None]:
    """Returns the array to write and its raw GGML type (None: inferred from the numpy dtype)."""
    if arr.ndim == 1 or outtype == "f32":
        return np.ascontiguousarray(to_f32(dtype, arr)), None
    if outtype == "f16":
        if dtype == "F16":
            return np.ascontiguousarray(arr), None
        return np.ascontiguousarray(to_f32(dtype, arr).astype(np.float16)), None
    if outtype == "bf16":
        bits = np.ascontiguousarray(arr) if dtype == "BF16" else f32_to_bf16_bits(to_f32(dtype, arr))
        return bits, gguf.GGMLQuantizationType.BF16
    raise ConversionError(f"unknown --outtype {outtype}")


def rope_permute(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorders the rows of a q/k projection (or bias) from HF's rotate_half layout to llama.cpp's.

    HF's Llama rotates dimension j of each head with dimension j + head_dim/2 (rotate_half);
    llama.cpp's Llama rope rotates adjacent pairs (2i, 2i+1). Rotations commute with a consistent
    reordering of a head's dimensions, and q·k is invariant under it, so listing each head's rows
    as [0, h/2, 1, h/2+1, ...] makes llama.cpp compute exactly the same attention scores.
    """
    rows = w.shape[0]
    if rows % n_heads or (rows // n_heads) % 2:
        raise ConversionError(f"cannot rope-permute {rows} rows over {n_heads} heads")
    head_dim = rows // n_heads
    half = head_dim // 2
    within = np.stack([np.arange(half), np.arange(half) + half], axis=1).reshape(-1)  # [0,h/2,1,...]
    order = (np.arange(n_heads)[:, None] * head_dim + within[None, :]).reshape(-1)
    return w[order]


def llama3_rope_factors(cfg: dict, head_dim: int) -> np.ndarray:
    """Per-frequency divisors for HF's llama3 rope scaling (llama.cpp's rope_freqs tensor).

    HF scales each inverse frequency: long wavelengths by 1/factor, short ones not at all, a
    smooth blend between; llama.cpp divides theta by rope_freqs[i], so the factor is the
    reciprocal of HF's multiplier.
    """
    rs = cfg["rope_scaling"]
    base = float(cfg.get("rope_theta", 10000.0))
    factor = float(rs.get("factor", 8.0))
    low = float(rs.get("low_freq_factor", 1.0))
    high = float(rs.get("high_freq_factor", 4.0))
    old_ctx = float(rs.get("original_max_position_embeddings", 8192))
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    factors = []
    for i in range(0, head_dim, 2):
        freq = 1.0 / (base ** (i / head_dim))
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def tokenizer_metadata(model_dir: Path, vocab_size: int) -> dict:
    """Tokens, scores and types for tokenizer.ggml.model "llama" from tokenizer.json.

    Our tokenizer.json is a SentencePiece-derived BPE (Mistral's vocabulary: "▁" for spaces,
    <0xNN> byte fallback). llama.cpp's SPM tokenizer repeatedly merges the adjacent pair whose
    merged piece has the highest score; HF's BPE merges the pair of lowest rank in `merges`. So a
    piece's score is minus the rank of the first merge that makes it. (score = -id, the
    SentencePiece order, is not the same: HF ranks whitespace runs like "▁▁" last, and llama.cpp
    then splits "▁▁tokens" differently.) Tokenizer agreement is checked by
    tools/peer/verify_gguf.py against the tokenizer golden fixture. Ids past the tokenizer's
    vocabulary (a config.json vocab_size padded for alignment) become unused placeholder tokens.
    """
    tok = json.loads((model_dir / "tokenizer.json").read_text())
    model = tok["model"]
    if model.get("type") != "BPE" or not model.get("byte_fallback"):
        raise ConversionError(f"{model_dir}/tokenizer.json: expected a BPE model with byte_fallback")
    vocab: dict[str, int] = dict(model["vocab"])
    added = {t["content"]: t for t in tok.get("added_tokens", [])}
    for content, t in added.items():
        vocab[content] = t["id"]
    by_id: dict[int, str] = {i: s for s, i in vocab.items()}
    merge_rank: dict[str, int] = {}
    for rank, merge in enumerate(model.get("merges", [])):
        pair = merge.split(" ") if isinstance(merge, str) else merge
        merge_rank.setdefault("".join(pair), rank)
    no_merge = len(merge_rank) + 1_000_000  # multi-char pieces no merge makes: tried last
    if max(by_id) >= vocab_size:
        raise ConversionError(f"tokenizer has id {max(by_id)} but config.json vocab_size is {vocab_size}")
    tokens, scores, types = [], [], []
    unk = model.get("unk_token")
    for i in range(vocab_size):
        piece = by_id.get(i)
        if piece is None:
            tokens.append(f"[PAD{i}]")
            scores.append(-1000.0)
            types.append(TOKEN_UNUSED)
            continue
        tokens.append(piece)
        if piece == unk:
            scores.append(0.0)
            types.append(TOKEN_UNKNOWN)
        elif piece in added:
            scores.append(0.0)
            types.append(TOKEN_CONTROL if added[piece].get("special") else TOKEN_USER_DEFINED)
        elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            scores.append(0.0)
            types.append(TOKEN_BYTE)
        else:
            scores.append(-float(merge_rank.get(piece, no_merge + i if len(piece) > 1 else 0)))
            types.append(TOKEN_NORMAL)
    cfg_path = model_dir / "tokenizer_config.json"
    tcfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}

    def special_id(key: str) -> int | None:
        v = tcfg.get(key)
        if isinstance(v, dict):
            v = v.get("content")
        return vocab.get(v) if isinstance(v, str) else None

    return {
        "tokens": tokens,
        "scores": scores,
        "types": types,
        "unk": vocab.get(unk) if unk else None,
        "bos": special_id("bos_token"),
        "eos": special_id("eos_token"),
        "pad": special_id("pad_token"),
        "add_bos": bool(tcfg.get("add_bos_token", True)),
        "add_eos": bool(tcfg.get("add_eos_token", False)),
        "chat_template": tcfg.get("chat_template"),
    }


def convert(model_dir: Path, out: Path, outtype: str) -> dict:
    cfg = json.loads((model_dir / "config.json").read_text())
    archs = cfg.get("architectures") or []
    if not archs or archs[0] not in ARCHES:
        raise ConversionError(f"{model_dir}/config.json: unsupported architectures {archs}")
    arch, permute = ARCHES[archs[0]]
    tensors = read_safetensors(model_dir)
    src_dtypes = {d for d, _ in tensors.values()}
    if outtype == "auto":
        outtype = {"F32": "f32", "F16": "f16", "BF16": "bf16"}[sorted(src_dtypes)[0]]

    n_embd = cfg["hidden_size"]
    n_layer = cfg["num_hidden_layers"]
    n_head = cfg["num_attention_heads"]
    n_head_kv = cfg.get("num_key_value_heads") or n_head
    head_dim = cfg.get("head_dim") or n_embd // n_head
    vocab_size = cfg["vocab_size"]

    w = gguf.GGUFWriter(str(out), arch)
    w.add_name(model_dir.name)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_vocab_size(vocab_size)
    w.add_file_type(
        {
            "f32": gguf.LlamaFileType.ALL_F32,
            "f16": gguf.LlamaFileType.MOSTLY_F16,
            "bf16": gguf.LlamaFileType.MOSTLY_BF16,
        }[outtype]
    )

    tk = tokenizer_metadata(model_dir, vocab_size)
    w.add_tokenizer_model("llama")
    w.add_token_list(tk["tokens"])
    w.add_token_scores(tk["scores"])
    w.add_token_types(tk["types"])
    for key, add in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id), ("unk", w.add_unk_token_id)):
        if tk[key] is not None:
            add(tk[key])
    if tk["pad"] is not None:
        w.add_pad_token_id(tk["pad"])
    w.add_add_bos_token(tk["add_bos"])
    w.add_add_eos_token(tk["add_eos"])
    w.add_add_space_prefix(True)  # the tokenizer.json normalizer prepends "▁"
    if tk["chat_template"]:
        w.add_chat_template(tk["chat_template"])

    used: set[str] = set()

    def put(gguf_name: str, hf_name: str, perm_heads: int | None = None, required: bool = True) -> None:
        if hf_name not in tensors:
            if required:
                raise ConversionError(f"{model_dir}: missing tensor {hf_name}")
            return
        used.add(hf_name)
        dtype, arr = tensors[hf_name]
        if perm_heads is not None and permute:
            arr = rope_permute(arr, perm_heads)
        data, raw = encode(dtype, arr, outtype)
        w.add_tensor(gguf_name, data, raw_dtype=raw)

    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type") or rs.get("type")
        if kind != "llama3":
            raise ConversionError(f"{model_dir}/config.json: unsupported rope_scaling type {kind}")
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(cfg, head_dim))

    put("token_embd.weight", "model.embed_tokens.weight")
    for i in range(n_layer):
        p, b = f"model.layers.{i}", f"blk.{i}"
        put(f"{b}.attn_norm.weight", f"{p}.input_layernorm.weight")
        put(f"{b}.attn_q.weight", f"{p}.self_attn.q_proj.weight", n_head)
        put(f"{b}.attn_k.weight", f"{p}.self_attn.k_proj.weight", n_head_kv)
        put(f"{b}.attn_v.weight", f"{p}.self_attn.v_proj.weight")
        put(f"{b}.attn_q.bias", f"{p}.self_attn.q_proj.bias", n_head, required=False)
        put(f"{b}.attn_k.bias", f"{p}.self_attn.k_proj.bias", n_head_kv, required=False)
        put(f"{b}.attn_v.bias", f"{p}.self_attn.v_proj.bias", required=False)
        put(f"{b}.attn_output.weight", f"{p}.self_attn.o_proj.weight")
        put(f"{b}.ffn_norm.weight", f"{p}.post_attention_layernorm.weight")
        put(f"{b}.ffn_gate.weight", f"{p}.mlp.gate_proj.weight")
        put(f"{b}.ffn_up.weight", f"{p}.mlp.up_proj.weight")
        put(f"{b}.ffn_down.weight", f"{p}.mlp.down_proj.weight")
    put("output_norm.weight", "model.norm.weight")
    # Tied embeddings: no lm_head in the file; llama.cpp reuses token_embd when output is absent.
    put("output.weight", "lm_head.weight", required=not cfg.get("tie_word_embeddings", False))
    unused = sorted(set(tensors) - used)
    if unused:
        raise ConversionError(f"{model_dir}: tensors this converter does not map: {unused[:5]}")

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {"arch": arch, "outtype": outtype, "tensors": len(used), "out": str(out)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path, help="HF model directory (config.json, *.safetensors, tokenizer.json)")
    ap.add_argument("out", type=Path, help="output .gguf path")
    ap.add_argument("--outtype", choices=["f32", "f16", "bf16", "auto"], default="auto",
                    help="weight type of 2-D tensors (default: the checkpoint's own)")
    args = ap.parse_args()
    try:
        info = convert(args.model_dir, args.out, args.outtype)
    except (ConversionError, FileNotFoundError, KeyError, json.JSONDecodeError) as e:
        print(f"hf_to_gguf: {e}", file=sys.stderr)
        return 1
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
