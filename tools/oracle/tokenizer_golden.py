#!/usr/bin/env python3
"""Tokenizer and chat-template golden outputs from Hugging Face's own libraries.

For one model directory this writes, for a fixed list of texts, the ids Hugging Face's Rust
`tokenizers` gives (with and without special tokens) and its decode, plus the prompt that
transformers' `apply_chat_template` renders for fixed conversations. The TS tokenizer
(@huggingface/tokenizers + @huggingface/jinja) is tested against it in
test/golden/tokenizer-golden.test.ts.

Usage:
  python tools/oracle/tokenizer_golden.py --model DIR --case NAME --preset P --out FILE
"""

import argparse
import json
import platform
import sys

import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import AutoTokenizer

TEXTS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading and trailing spaces  ",
    "naïve café — 世界 你好 🎉🦜 𝄞 龘 👍🏽",
    "line one\nline two\ttabbed\n\n",
    "numbers 12345 and 3.14159, symbols #@!$%^&*()",
    "</s>special<s> tokens <unk> inline",
    "<|im_start|>user\nhi<|im_end|>\n",
    "",
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hi there"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "  And 3+3?  "},
    ],
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--preset", help="model maker preset (the test rewrites its tokenizer files)")
    ap.add_argument("--checkpoint", help="repository-relative directory of a committed checkpoint (instead of --preset)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    tok = Tokenizer.from_file(f"{args.model}/tokenizer.json")
    texts = []
    for text in TEXTS:
        with_special = tok.encode(text, add_special_tokens=True).ids
        bare = tok.encode(text, add_special_tokens=False).ids
        texts.append(
            {
                "text": text,
                "ids": with_special,
                "ids_no_special": bare,
                "decoded": tok.decode(with_special, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(with_special, skip_special_tokens=True),
            }
        )

    hf = AutoTokenizer.from_pretrained(args.model)
    chats = []
    for conv in CONVERSATIONS:
        chats.append(
            {
                "messages": conv,
                "prompt": hf.apply_chat_template(conv, tokenize=False, add_generation_prompt=True),
            }
        )

    fixture = {
        "case": args.case,
        "preset": args.preset,
        "checkpoint": args.checkpoint,
        "versions": {
            "python": platform.python_version(),
            "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__,
        },
        "command": " ".join(["python", "tools/oracle/tokenizer_golden.py"] + sys.argv[1:]),
        "texts": texts,
        "chats": chats,
    }
    with open(args.out, "w") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
