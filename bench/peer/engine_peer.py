#!/usr/bin/env python3
"""llama.cpp on the same weights as the engine bench: the measured peer.

For each GGUF given (made by tools/peer/hf_to_gguf.py from a makeModel directory) it measures,
with llama-cpp-python's low-level API (llama_batch + llama_decode, the calls llama.cpp's own
tools make), on --threads threads:

  - prefill tok/s for prompts of 128 and 512 tokens (one llama_decode of the whole prompt,
    logits of the last position only, KV cache cleared before each rep; best of --reps);
  - aggregate decode tok/s at batch 1, 8 and 32: that many sequences (sequence ids 0..B-1 in one
    unified KV cache) each prefilled with a 128-token prompt, then steps of one llama_decode with
    one token per sequence, each sequence's next token picked greedily from its logits; the shape
    of bench/engine/main.ts (32 steps at batch 1, 16 at 8 and 32); rate = B / median step time.

Results are validated before they are timed: logits finite, and sequence 0's greedy tokens inside
the batch equal those of the same prompt decoded alone. One JSON object per line on stdout:

  {"model": "tiny", "dtype": "f32", "gguf": ..., "threads": 2, "kv": "f16", "flash_attn": ...,
   "pp128": tok/s, "pp512": tok/s, "tg_b1": tok/s, "tg_b8": tok/s, "tg_b32": tok/s}

  /work/venv-peer/bin/python bench/peer/engine_peer.py tiny:f32:/path/tiny-f32.gguf [...]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import sys
import time

import numpy as np

import llama_cpp as lc

PROMPT_LENS = [128, 512]
BATCHES = [1, 8, 32]
DECODE_PROMPT = 128
KV_TYPES = {"f32": 0, "f16": 1}
FLASH_ATTN = {"auto": -1, "off": 0, "on": 1}


# llama.cpp logs every load to stderr; the callback object must outlive every call into it.
_QUIET = lc.llama_log_callback(lambda level, text, data: None)


class BenchError(Exception):
    pass


def prompt_tokens(n: int, seed: int, n_vocab: int) -> list[int]:
    """The LCG of bench/engine/main.ts (ids 3 .. 31002), so both engines see the same prompts."""
    s = (seed & 0xFFFFFFFF) or 1
    out = []
    for _ in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out.append(3 + (s % min(31000, n_vocab - 3)))
    return out


class Peer:
    """One model + context; `decode` runs one llama_batch and returns the requested logits rows."""

    def __init__(self, path: str, threads: int, n_ctx: int, n_seq: int, kv: str, flash_attn: str):
        mparams = lc.llama_model_default_params()
        self.model = lc.llama_model_load_from_file(path.encode(), mparams)
        if not self.model:
            raise BenchError(f"llama.cpp could not load {path}")
        cparams = lc.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = max(PROMPT_LENS)
        cparams.n_ubatch = max(PROMPT_LENS)
        cparams.n_seq_max = n_seq
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.type_k = KV_TYPES[kv]
        cparams.type_v = KV_TYPES[kv]
        cparams.flash_attn_type = FLASH_ATTN[flash_attn]
        # One cache shared by all sequences (llama-batched-bench's -kvu): a 512-token prompt on
        # sequence 0 and 32 sequences of 161 tokens both fit in the same n_ctx.
        cparams.kv_unified = True
        cparams.no_perf = True
        self.ctx = lc.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise BenchError(f"llama.cpp could not create a context for {path}")
        self.n_vocab = lc.llama_vocab_n_tokens(lc.llama_model_get_vocab(self.model))
        self.mem = lc.llama_get_memory(self.ctx)
        self.batch = lc.llama_batch_init(max(max(PROMPT_LENS), max(BATCHES)), 0, n_seq)

    def clear(self) -> None:
        lc.llama_memory_clear(self.mem, True)

    def decode(self, items: list[tuple[int, int, int, bool]]) -> np.ndarray:
        """items: (token, pos, seq_id, want_logits). Returns the wanted logits rows, in order."""
        b = self.batch
        for i, (tok, pos, seq, want) in enumerate(items):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = 1 if want else 0
        b.n_tokens = len(items)
        rc = lc.llama_decode(self.ctx, b)
        if rc != 0:
            raise BenchError(f"llama_decode returned {rc}")
        n_out = sum(1 for it in items if it[3])
        ptr = lc.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n_out, self.n_vocab))

    def prefill(self, tokens: list[int], seq: int) -> np.ndarray:
        return self.decode([(t, p, seq, p == len(tokens) - 1) for p, t in enumerate(tokens)])[0].copy()

    def free(self) -> None:
        lc.llama_batch_free(self.batch)
        lc.llama_free(self.ctx)
        lc.llama_model_free(self.model)


def check(cond: bool, what: str) -> None:
    if not cond:
        raise BenchError(f"bench validation failed: {what}")


def prefill_rate(peer: Peer, n: int, reps: int) -> float:
    prompt = prompt_tokens(n, n, peer.n_vocab)
    peer.clear()
    check(bool(np.isfinite(peer.prefill(prompt, 0)).all()), f"prefill {n} logits are finite")
    best = float("inf")
    for _ in range(reps):
        peer.clear()
        t0 = time.perf_counter()
        peer.prefill(prompt, 0)
        best = min(best, time.perf_counter() - t0)
    return n / best


def decode_rate(peer: Peer, batch: int, steps: int) -> float:
    prompts = [prompt_tokens(DECODE_PROMPT, 100 + i, peer.n_vocab) for i in range(batch)]
    # Reference: sequence 0 alone, greedy, two tokens.
    peer.clear()
    alone = [int(np.argmax(peer.prefill(prompts[0], 0)))]
    alone.append(int(np.argmax(peer.decode([(alone[0], DECODE_PROMPT, 0, True)])[0])))
    peer.clear()
    last = []
    for i, p in enumerate(prompts):
        last.append(int(np.argmax(peer.prefill(p, i))))
    check(last[0] == alone[0], "batched prefill matches the single-sequence greedy token")
    step_s = []
    for s in range(steps):
        t0 = time.perf_counter()
        logits = peer.decode([(tok, DECODE_PROMPT + s, i, True) for i, tok in enumerate(last)])
        last = [int(t) for t in np.argmax(logits, axis=1)]
        step_s.append(time.perf_counter() - t0)
        if s == 0:
            check(bool(np.isfinite(logits).all()), "decode logits are finite")
            check(last[0] == alone[1], "batched decode matches the single-sequence greedy token")
    # The median step resists the shared machine's bursts better than the mean (as engine-shapes.ts).
    return batch / statistics.median(step_s)


def main() -> int:
    ap = argparse.ArgumentParser(description="llama.cpp prefill/decode throughput on GGUF files")
    ap.add_argument("models", nargs="+", help="NAME:DTYPE:PATH.gguf, e.g. tiny:f32:/tmp/tiny-f32.gguf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5, help="prefill repetitions (best is reported)")
    ap.add_argument("--kv", choices=list(KV_TYPES), default="f16", help="KV cache type (llama.cpp default f16)")
    ap.add_argument("--flash-attn", choices=list(FLASH_ATTN), default="auto", help="llama.cpp default: auto")
    args = ap.parse_args()

    lc.llama_backend_init()
    lc.llama_log_set(_QUIET, ctypes.c_void_p(0))
    n_ctx = max(BATCHES) * (DECODE_PROMPT + 32 + 1)
    for spec in args.models:
        parts = spec.split(":", 2)
        if len(parts) != 3:
            print(f"engine_peer: expected NAME:DTYPE:PATH, got {spec!r}", file=sys.stderr)
            return 2
        name, dtype, path = parts
        try:
            peer = Peer(path, args.threads, n_ctx, max(BATCHES), args.kv, args.flash_attn)
            try:
                row = {"model": name, "dtype": dtype, "gguf": path, "threads": args.threads,
                       "kv": args.kv, "flash_attn": args.flash_attn}
                for n in PROMPT_LENS:
                    row[f"pp{n}"] = round(prefill_rate(peer, n, args.reps), 1)
                for b in BATCHES:
                    row[f"tg_b{b}"] = round(decode_rate(peer, b, 32 if b == 1 else 16), 1)
            finally:
                peer.free()
        except BenchError as e:
            print(f"engine_peer: {name} {dtype}: {e}", file=sys.stderr)
            return 1
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
