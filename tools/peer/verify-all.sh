#!/usr/bin/env bash
# Converts every golden case to GGUF and checks llama.cpp's logits against the golden fixtures
# (tools/peer/README.md says what each line proves). Exits non-zero if any check fails.
#
#   bash tools/peer/verify-all.sh [WORK_DIR]   (default /tmp/radixserve-peer)
# Needs the venv of tools/peer/README.md ($PEER_PYTHON, default /work/venv-peer/bin/python) and
# the workspace built (npm run build) for the model maker.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PEER_PYTHON:-/work/venv-peer/bin/python}"
WORK="${1:-/tmp/radixserve-peer}"
FX=test/golden/fixtures
mkdir -p "$WORK/gguf"

node --import tsx tools/make-golden-models.ts "$WORK/models" >/dev/null

status=0
check() { # NAME CASE OUTTYPE [verify_gguf.py flags...]
  local name=$1 case=$2 outtype=$3
  shift 3
  "$PY" tools/peer/hf_to_gguf.py "$WORK/models/$case" "$WORK/gguf/$name.gguf" --outtype "$outtype" >/dev/null
  "$PY" tools/peer/verify_gguf.py "$WORK/gguf/$name.gguf" "$FX/$case.json" "$@" || status=1
}

# f32 math on the exact weights: the engine's own tolerance (1e-3), checksums enforced.
check tiny-f32 tiny-f32 f32 --strict-sums --tokenizer "$FX/tokenizer-tiny.json"
check tiny-gqa tiny-gqa f32 --strict-sums
check tiny-qwen2 tiny-qwen2 f32 --strict-sums
check tiny-bf16-as-f32 tiny-bf16 f32 --strict-sums
check tiny-f16 tiny-f16 f16 --strict-sums
# llama.cpp's bf16 matmul rounds activations to bf16: measured worst 7.4e-2, so 0.1 here.
check tiny-bf16 tiny-bf16 bf16 --tol 0.1
exit $status
