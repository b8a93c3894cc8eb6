#!/usr/bin/env python3
"""Golden outputs for RadixServe's engine, computed by Hugging Face transformers (torch, CPU).

For one model directory (made by tools/make-golden-models.ts) this writes a JSON fixture with,
for each of three fixed prompts (5, 37 and 130 tokens):
  * the logits of every prompt position (one full forward pass), and
  * 8 greedy decode steps: the generated tokens and the logits of each step.
Each logits row is stored compactly: its top-16 (id, logit) pairs, the logits of 32 fixed probe
ids spread over the vocabulary, and the row's sum and sum of squares (float64) as a checksum of
the full row.

The reference always runs in float32 (dtype=torch.float32), also for bf16 checkpoints: the bf16
weights are upcast exactly, so the reference is exact f32 math on the same weights as the
engine sees. Attention is the plain "eager" implementation, and each decode step recomputes
the whole sequence without a KV cache, so the reference shares no caching logic with the
engine under test.

Usage:
  python tools/oracle/golden.py --model DIR --case NAME --preset P --dtype D --seed S --out FILE
"""

import argparse
import hashlib
import json
import platform
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM

TOP_K = 16
NUM_PROBES = 32
DECODE_STEPS = 8
PROMPT_LENGTHS = (5, 37, 130)


def prompt_ids(length: int, salt: int, vocab: int = 32000) -> list[int]:
    """A fixed prompt: BOS then ids from a small LCG over the base vocabulary [3, min(vocab, 32000)).

    Ids avoid 0..2 (unk/bos/eos) after the first and stay below 32000 so every case's
    tokenizer knows them.
    """
    ids = [1]
    x = 12345 + salt * 7919
    top = min(vocab, 32000)
    while len(ids) < length:
        x = (x * 1103515245 + 12345) % (1 << 31)
        ids.append(3 + (x >> 8) % (top - 3))
    return ids


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def row_summary(row: torch.Tensor, probes: list[int]) -> dict:
    """Compact, checkable form of one f32 logits row."""
    values, ids = torch.topk(row, TOP_K)
    r64 = row.double()
    top2 = values[:2].tolist()
    # Logits are rounded to 1e-5: two orders of magnitude below the 1e-3 test tolerance.
    return {
        "top": [[int(i), round(float(v), 5)] for i, v in zip(ids.tolist(), values.tolist())],
        "probes": [round(float(row[p]), 5) for p in probes],
        "sum": round(float(r64.sum()), 4),
        "sumsq": round(float((r64 * r64).sum()), 3),
        "gap": round(float(top2[0] - top2[1]), 5),
    }


@torch.no_grad()
def logits_of(model, ids: list[int]) -> torch.Tensor:
    out = model(torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF model directory")
    ap.add_argument("--case", required=True)
    ap.add_argument("--preset", help="model maker preset (the test remakes the model)")
    ap.add_argument("--dtype", required=True, choices=["f32", "bf16", "f16"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", help="repository-relative directory of a committed checkpoint (instead of --preset)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with open(f"{args.model}/config.json") as f:
        config = json.load(f)
    vocab = config["vocab_size"]
    probes = [round(i * (vocab - 1) / (NUM_PROBES - 1)) for i in range(NUM_PROBES)]

    prompts = []
    min_gap = float("inf")
    for salt, length in enumerate(PROMPT_LENGTHS):
        ids = prompt_ids(length, salt, vocab)
        full = logits_of(model, ids)
        prefill = [row_summary(full[i], probes) for i in range(len(ids))]
        seq = list(ids)
        tokens = [int(torch.argmax(full[-1]))]
        min_gap = min(min_gap, prefill[-1]["gap"])
        steps = []
        for _ in range(DECODE_STEPS):
            seq.append(tokens[-1])
            row = logits_of(model, seq)[-1]
            summary = row_summary(row, probes)
            steps.append(summary)
            min_gap = min(min_gap, summary["gap"])
            tokens.append(int(torch.argmax(row)))
        prompts.append({"ids": ids, "prefill": prefill, "greedy": {"tokens": tokens, "steps": steps}})
        row_std = float(full[-1].std())
        print(f"{args.case}: prompt {length} tokens, last-row std {row_std:.3f}, greedy {tokens}", file=sys.stderr)

    print(f"{args.case}: smallest top1-top2 gap on a greedy step: {min_gap:.5f}", file=sys.stderr)
    fixture = {
        "case": args.case,
        "preset": args.preset,
        "checkpoint": args.checkpoint,
        "dtype": args.dtype,
        "seed": args.seed,
        "model_sha256": sha256(f"{args.model}/model.safetensors"),
        "reference": {
            "compute_dtype": "float32",
            "attention": "eager",
            "decode": "full recompute per step, no KV cache",
            "note": "bf16/f16 checkpoints are upcast exactly to float32: exact f32 math on the same weights",
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "command": " ".join(["python", "tools/oracle/golden.py"] + sys.argv[1:]),
        "config": config,
        "top_k": TOP_K,
        "probe_ids": probes,
        "min_greedy_gap": min_gap,
        "prompts": prompts,
    }
    with open(args.out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
