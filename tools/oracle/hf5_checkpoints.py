#!/usr/bin/env python3
"""Small random checkpoints written by transformers 5 `save_pretrained` itself.

They carry what a current transformers release writes and the model maker does not: the rope
settings under `rope_parameters` (here llama3 scaling), an explicit `head_dim` other than
hidden_size / num_attention_heads, `dtype` instead of `torch_dtype`, the chat template in
`chat_template.jinja`, and a generation_config.json with sampling defaults. The directories are
committed under test/golden/checkpoints/ (bf16, ~0.2 MB each); golden.py and tokenizer_golden.py
then write their fixtures from them (tools/oracle/run-all.sh).

Usage:
  python tools/oracle/hf5_checkpoints.py --out test/golden/checkpoints
"""

import argparse
import os

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIALS = ["<unk>", "<|im_start|>", "<|im_end|>"]

COMMON = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    max_position_embeddings=256,
    rms_norm_eps=1e-5,
    bos_token_id=1,
    eos_token_id=2,
)

CASES = {
    "hf5-llama3-rope": (
        LlamaForCausalLM,
        LlamaConfig(
            **COMMON,
            rope_parameters={
                "rope_type": "llama3",
                "rope_theta": 500000.0,
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
            tie_word_embeddings=False,
        ),
    ),
    "hf5-qwen2": (
        Qwen2ForCausalLM,
        Qwen2Config(**COMMON, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, tie_word_embeddings=True),
    ),
}


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE over the 256 byte symbols (no merges) plus ChatML specials: 259 ids < vocab_size."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        chat_template=CHATML,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    for i, (name, (cls, config)) in enumerate(CASES.items()):
        torch.manual_seed(4321 + i)
        config.initializer_range = 0.2  # logits with a spread, so greedy steps are well separated
        model = cls(config).to(torch.bfloat16)
        model.generation_config = GenerationConfig(
            bos_token_id=1, eos_token_id=[2], do_sample=True, temperature=0.6, top_p=0.9, top_k=20
        )
        out = os.path.join(args.out, name)
        model.save_pretrained(out)
        byte_tokenizer().save_pretrained(out)
        print(f"{name}: {sorted(os.listdir(out))}")


if __name__ == "__main__":
    main()
