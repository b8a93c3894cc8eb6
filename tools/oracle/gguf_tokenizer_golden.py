#!/usr/bin/env python3
"""transformers' tokenizer for a GGUF file, as a fixture for the TS tokenizer built from GGUF metadata.

`AutoTokenizer.from_pretrained(dir, gguf_file=...)` builds the tokenizer from the file's
`tokenizer.ggml.*` metadata. For a varied corpus (code, digits, unicode, whitespace runs, special
tokens inline) the fixture holds its ids with and without special tokens and both decodes, and for
a few conversations (system, multi-turn) apply_chat_template's prompt text and ids.
gguf_golden.py writes the same fixture for the default model; this script does it for a GGUF that
holds only a tokenizer (test/golden/spm-gguf.ts writes one with Llama 2's SentencePiece vocabulary).

Usage:
  python tools/oracle/gguf_tokenizer_golden.py --gguf FILE --case NAME --out FILE
"""

import argparse
import json
import os
import platform
import sys

import gguf
import transformers
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import sha256  # noqa: E402

TEXTS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "def add(a, b):\n    return a + b  # sum\n\nprint(add(2, 3))\n",
    "for (let i = 0; i < 10; i++) { console.log(`i=${i}`); }",
    "numbers 1234567890, 3.14159, -42, 1e-10, 2024-12-07, $1,000.50 and 0x1F",
    "naïve café — 世界 你好 🎉🦜 𝄞 龘 👍🏽 Ελληνικά русский العربية",
    "  leading and trailing spaces  ",
    "runs:    four spaces\t\ttwo tabs\n\n\nthree newlines \r\n crlf",
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    "It's what they've said: I'm sure we'll do it, won't we? 'quoted' \"double\"",
    "URL https://example.com/path?q=1&b=two#frag and e-mail a.b@c.org",
    "MixedCASE camelCase snake_case kebab-case SCREAMING_CASE",
    "",
]

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "  And 3+3?  "},
    ],
    [
        {"role": "user", "content": "Write a haiku about the sea."},
        {"role": "assistant", "content": "Waves fold into foam\nsalt wind carries gull voices\nthe tide keeps its time"},
        {"role": "user", "content": "Now one about 日本 🎌."},
    ],
]


def as_ids(x) -> list[int]:
    """apply_chat_template(tokenize=True) returns a list or a BatchEncoding depending on version."""
    if isinstance(x, dict) or hasattr(x, "input_ids"):
        x = x["input_ids"]
    return [int(i) for i in x]



def tokenizer_fixture(tok, case: str, gguf_name: str, model_sha256: str, versions: dict, command: str) -> dict:
    texts = []
    for text in TEXTS:
        with_special = tok.encode(text, add_special_tokens=True)
        texts.append(
            {
                "text": text,
                "ids": with_special,
                "ids_no_special": tok.encode(text, add_special_tokens=False),
                "decoded": tok.decode(with_special, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(with_special, skip_special_tokens=True),
            }
        )
    chats = [
        {
            "messages": conv,
            "prompt": tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True),
            "ids": as_ids(tok.apply_chat_template(conv, tokenize=True, add_generation_prompt=True)),
        }
        for conv in CONVERSATIONS
    ]
    return {
        "case": case,
        "gguf": gguf_name,
        "model_sha256": model_sha256,
        "versions": versions,
        "command": command,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "texts": texts,
        "chats": chats,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    directory, name = os.path.split(os.path.abspath(args.gguf))
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    versions = {
        "python": platform.python_version(),
        "transformers": transformers.__version__,
        "gguf": getattr(gguf, "__version__", "unknown"),
    }
    command = " ".join(["python", "tools/oracle/gguf_tokenizer_golden.py"] + sys.argv[1:])
    fixture = tokenizer_fixture(tok, args.case, name, sha256(args.gguf), versions, command)
    with open(args.out, "w") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
