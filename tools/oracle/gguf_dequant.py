"""Golden dequantization fixture for the engine's GGUF block decoders.

Reads the quantized rows the engine's own quantizer wrote (test/quant-blocks.json, made by
`node --import tsx tools/oracle/gguf-quant-rows.ts`), dequantizes them with the `gguf` package
(llama.cpp's Python reference implementation of the block layouts), and writes the values next to
the bytes. Usage: python tools/oracle/gguf_dequant.py packages/engine-native/test/fixtures/quant-blocks.json
"""

import base64
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

TYPES = {"q4_0": T.Q4_0, "q4_1": T.Q4_1, "q5_0": T.Q5_0, "q5_1": T.Q5_1, "q8_0": T.Q8_0, "q4_k": T.Q4_K, "q5_k": T.Q5_K, "q6_k": T.Q6_K}


def main(path: str) -> None:
    with open(path) as f:
        fixture = json.load(f)
    for case in fixture["cases"]:
        raw = np.frombuffer(base64.b64decode(case["bytes"]), dtype=np.uint8).reshape(case["rows"], -1)
        case["values"] = dequantize(raw, TYPES[case["dtype"]]).reshape(-1).astype(np.float32).tolist()
    fixture["oracle"] = "gguf (llama.cpp gguf-py) quants.dequantize"
    with open(path, "w") as f:
        json.dump(fixture, f)


if __name__ == "__main__":
    main(sys.argv[1])
