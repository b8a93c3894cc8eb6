#!/usr/bin/env python3
"""Re-quantizes a GGUF with llama.cpp's own quantizer (llama-cpp-python's llama_model_quantize).

  python bench/peer/gguf_quantize.py IN.gguf OUT.gguf q8_0|q4_k_m|q5_k_m|q4_0|f16|bf16|f32

The shipped SmolLM2 file is Q4_1: the other types are made from its (dequantized) values with
allow_requantize, so every file of the comparison holds the same model.
"""

import sys

import llama_cpp as lc

FTYPES = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q8_0": 7,
    "q4_k_m": 15,
    "q5_k_m": 17,
    "bf16": 32,
}


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[3] not in FTYPES:
        print(f"usage: gguf_quantize.py IN.gguf OUT.gguf {'|'.join(FTYPES)}", file=sys.stderr)
        return 2
    params = lc.llama_model_quantize_default_params()
    params.ftype = FTYPES[sys.argv[3]]
    params.allow_requantize = True
    params.nthread = 2
    rc = lc.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), params)
    if rc != 0:
        print(f"llama_model_quantize failed ({rc})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
