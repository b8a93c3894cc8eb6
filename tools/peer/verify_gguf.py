#!/usr/bin/env python3
"""Verifies a GGUF made by hf_to_gguf.py: llama.cpp's logits against the golden fixtures.

The fixtures (test/golden/fixtures/<case>.json, written by tools/oracle/golden.py with HF
transformers) hold, for 3 prompts, every prefill position's top-16 logits, 32 probe logits and
the row's sum and sum of squares, plus 8 greedy decode steps. This script runs the same prompts
through llama.cpp (llama-cpp-python, logits for every position, f32 KV cache so the cache adds no
rounding of its own) and applies the checks of test/golden/golden.test.ts:

  - every checked logit within --tol (default 1e-3 absolute, the engine's f32 tolerance);
  - row sum within 1e-6 x vocab and row sum of squares within 1e-5 relative (checksums of the
    whole row: they catch a wrong logit the top-16/probe ids do not show) — reported, and enforced
    with --strict-sums;
  - greedy: the argmax after the prompt and after each of the 8 fed reference tokens equals the
    reference token wherever the reference's top-1/top-2 gap is above --greedy-gap (default 1e-2,
    the golden test's 10 x 1e-3; the fixtures' smallest greedy gap is ~0.03).

With --tokenizer FIXTURE (test/golden/fixtures/tokenizer-tiny.json) it also checks that
llama.cpp's tokenizer gives HF's ids for the fixture's texts. Exit status 0 only if every check
passes; the worst errors are printed as one JSON line either way.

  python tools/peer/verify_gguf.py GGUF test/golden/fixtures/tiny-f32.json \
      [--tokenizer test/golden/fixtures/tokenizer-tiny.json] [--tol 1e-3] [--kv f32|f16]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

GGML_TYPE = {"f32": 0, "f16": 1}


def check_row(logits: np.ndarray, ref: dict, probe_ids: list[int], tol: float, worst: dict, where: str,
              failures: list[str]) -> None:
    err, err_id = 0.0, -1
    for tid, want in ref["top"]:
        e = abs(float(logits[tid]) - want)
        if e > err:
            err, err_id = e, tid
    for tid, want in zip(probe_ids, ref["probes"]):
        e = abs(float(logits[tid]) - want)
        if e > err:
            err, err_id = e, tid
    worst["logit"] = max(worst["logit"], err)
    if err > tol:
        failures.append(f"{where}: logit of token {err_id} off by {err:.2e} (tolerance {tol})")
    row = logits.astype(np.float64)
    s, ss = float(row.sum()), float((row * row).sum())
    worst["sum_per_logit"] = max(worst["sum_per_logit"], abs(s - ref["sum"]) / len(row))
    worst["sumsq_rel"] = max(worst["sumsq_rel"], abs(ss - ref["sumsq"]) / ref["sumsq"])


def main() -> int:
    ap = argparse.ArgumentParser(description="llama.cpp logits of a GGUF vs a golden fixture")
    ap.add_argument("gguf")
    ap.add_argument("fixture")
    ap.add_argument("--tokenizer", help="tokenizer golden fixture to check llama.cpp's tokenizer against")
    ap.add_argument("--tol", type=float, default=1e-3, help="absolute logit tolerance (default 1e-3)")
    ap.add_argument("--kv", choices=list(GGML_TYPE), default="f32", help="llama.cpp KV cache type")
    ap.add_argument("--greedy-gap", type=float, default=1e-2,
                    help="check the argmax where the reference's top-1/top-2 gap exceeds this (default 1e-2)")
    ap.add_argument("--strict-sums", action="store_true", help="also fail on the row checksums")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from llama_cpp import Llama  # imported late: --help works without the venv's native build

    fx = json.load(open(args.fixture))
    longest = max(len(p["ids"]) + len(p["greedy"]["tokens"]) for p in fx["prompts"])
    llm = Llama(
        model_path=args.gguf,
        n_ctx=max(256, longest + 8),
        n_batch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        logits_all=True,
        type_k=GGML_TYPE[args.kv],
        type_v=GGML_TYPE[args.kv],
        verbose=False,
    )
    vocab = llm.n_vocab()
    if vocab != fx["config"]["vocab_size"]:
        print(f"verify_gguf: vocab {vocab} != fixture's {fx['config']['vocab_size']}", file=sys.stderr)
        return 1

    failures: list[str] = []
    worst = {"logit": 0.0, "sum_per_logit": 0.0, "sumsq_rel": 0.0}
    greedy_checked = greedy_agree = 0
    probe_ids = fx["probe_ids"]
    for p, prompt in enumerate(fx["prompts"]):
        ids = prompt["ids"]
        llm.reset()
        llm.eval(ids)
        scores = np.array(llm.scores[: len(ids)], dtype=np.float32)
        for pos, ref in enumerate(prompt["prefill"]):
            check_row(scores[pos], ref, probe_ids, args.tol, worst, f"prompt {p} prefill {pos}", failures)
        want = prompt["greedy"]["tokens"]
        last_row, last_ref = scores[len(ids) - 1], prompt["prefill"][-1]
        for i in range(len(want)):
            # The argmax only means something where the reference's top two are clearly apart.
            if last_ref["gap"] > args.greedy_gap:
                greedy_checked += 1
                got = int(np.argmax(last_row))
                if got == want[i]:
                    greedy_agree += 1
                else:
                    failures.append(f"prompt {p} greedy step {i}: llama.cpp picks {got}, reference {want[i]}")
            if i == len(want) - 1:
                break
            # Feed the reference token so later steps stay comparable even after a mismatch.
            llm.eval([want[i]])
            last_row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            last_ref = prompt["greedy"]["steps"][i]
            check_row(last_row, last_ref, probe_ids, args.tol, worst, f"prompt {p} decode {i}", failures)

    sum_tol, sumsq_tol = 1e-6, 1e-5
    if args.strict_sums:
        if worst["sum_per_logit"] > sum_tol:
            failures.append(f"row sum error {worst['sum_per_logit']:.2e} per logit > {sum_tol}")
        if worst["sumsq_rel"] > sumsq_tol:
            failures.append(f"row sum-of-squares relative error {worst['sumsq_rel']:.2e} > {sumsq_tol}")

    tok_checked = tok_agree = 0
    if args.tokenizer:
        tfx = json.load(open(args.tokenizer))
        for t in tfx["texts"]:
            tok_checked += 1
            got = llm.tokenize(t["text"].encode("utf-8"), add_bos=True, special=True)
            if got == t["ids"]:
                tok_agree += 1
            else:
                failures.append(f"tokenize {t['text'][:30]!r}: llama.cpp {got[:12]} vs HF {t['ids'][:12]}")

    print(json.dumps({
        "gguf": args.gguf,
        "fixture": fx["case"],
        "kv": args.kv,
        "tol": args.tol,
        "worst_logit_err": float(f"{worst['logit']:.3e}"),
        "worst_sum_err_per_logit": float(f"{worst['sum_per_logit']:.3e}"),
        "worst_sumsq_rel_err": float(f"{worst['sumsq_rel']:.3e}"),
        "greedy_agree": f"{greedy_agree}/{greedy_checked}",
        "tokenizer_agree": f"{tok_agree}/{tok_checked}",
        "failures": len(failures),
        "ok": not failures,
    }))
    for f in failures[:20]:
        print("FAIL", f, file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
