#!/usr/bin/env python3
"""Golden outputs for a real GGUF model, computed by transformers loading the GGUF itself.

transformers reads the GGUF (`from_pretrained(dir, gguf_file=...)`, with the `gguf` package) and
dequantizes every tensor to float32, so its outputs are exact f32 math on the dequantized weights:
the reference for the engine's exact path. Two fixtures are written:

  --out FILE            for a few real prompts (among them the chat-rendered "What is the capital
                        of France?"): the logits of every prompt position and greedy decode steps
                        (each logits row in golden.py's compact form), and the greedy text;
  --tokenizer-out FILE  transformers' tokenizer built from the GGUF metadata: ids (with and without
                        special tokens) and decodes over a varied corpus (code, digits, unicode,
                        whitespace runs, special tokens inline), and apply_chat_template's prompt
                        text and ids for a few conversations (system, multi-turn).

Usage:
  python tools/oracle/gguf_golden.py --gguf FILE --case NAME --out FILE --tokenizer-out FILE
"""

import argparse
import json
import os
import platform
import sys

import gguf
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import NUM_PROBES, TOP_K, logits_of, row_summary, sha256  # noqa: E402
from gguf_tokenizer_golden import as_ids, tokenizer_fixture  # noqa: E402

DECODE_STEPS = 12

CHAT_PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are a helpful assistant who answers briefly."},
        {"role": "user", "content": "Name three primary colors."},
    ],
]
RAW_PROMPTS = [
    "The quick brown fox jumps over the lazy dog. The dog",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
]

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, help="the .gguf file")
    ap.add_argument("--case", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer-out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(2)
    directory, name = os.path.split(os.path.abspath(args.gguf))
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        directory, gguf_file=name, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    config = model.config.to_dict()
    vocab = model.config.vocab_size
    probes = [round(i * (vocab - 1) / (NUM_PROBES - 1)) for i in range(NUM_PROBES)]
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gguf": getattr(gguf, "__version__", "unknown"),
    }
    command = " ".join(["python", "tools/oracle/gguf_golden.py"] + sys.argv[1:])

    prompts = []
    inputs = [
        (tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True), as_ids(
            tok.apply_chat_template(c, tokenize=True, add_generation_prompt=True)))
        for c in CHAT_PROMPTS
    ] + [(t, tok.encode(t)) for t in RAW_PROMPTS]
    min_gap = float("inf")
    for text, ids in inputs:
        full = logits_of(model, ids)
        prefill = [row_summary(full[i], probes) for i in range(len(ids))]
        seq = list(ids)
        tokens = [int(torch.argmax(full[-1]))]
        steps = []
        for _ in range(DECODE_STEPS):
            seq.append(tokens[-1])
            row = logits_of(model, seq)[-1]
            summary = row_summary(row, probes)
            steps.append(summary)
            min_gap = min(min_gap, summary["gap"])
            tokens.append(int(torch.argmax(row)))
        greedy_text = tok.decode(tokens, skip_special_tokens=False)
        print(f"{args.case}: {len(ids)} tokens -> {greedy_text!r}", file=sys.stderr)
        prompts.append(
            {"text": text, "ids": ids, "prefill": prefill, "greedy": {"tokens": tokens, "text": greedy_text, "steps": steps}}
        )

    fixture = {
        "case": args.case,
        "gguf": name,
        "model_sha256": sha256(args.gguf),
        "reference": {
            "compute_dtype": "float32",
            "attention": "eager",
            "weights": "every GGUF tensor dequantized to float32 by transformers",
            "decode": "full recompute per step, no KV cache",
        },
        "versions": versions,
        "command": command,
        "config": config,
        "top_k": TOP_K,
        "probe_ids": probes,
        "min_greedy_gap": min_gap,
        "prompts": prompts,
    }
    with open(args.out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")

    tok_fixture = tokenizer_fixture(tok, f"tokenizer-{args.case}", name, fixture["model_sha256"], versions, command)
    with open(args.tokenizer_out, "w") as f:
        json.dump(tok_fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
