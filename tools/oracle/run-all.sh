#!/usr/bin/env bash
# Regenerates every golden fixture: makes the models, then runs the oracle on each.
# Usage (from the repository root): tools/oracle/run-all.sh [PYTHON] [MODELS_DIR]
set -euo pipefail
PY="${1:-/work/venv-oracle/bin/python}"
MODELS="${2:-$(mktemp -d)}"
node --import tsx tools/make-golden-models.ts "$MODELS"
node -e '
  const cases = require("./tools/oracle/cases.json").cases;
  for (const c of cases) console.log([c.name, c.preset, c.dtype, c.seed].join(" "));
' | while read -r name preset dtype seed; do
  "$PY" tools/oracle/golden.py --model "$MODELS/$name" --case "$name" --preset "$preset" \
    --dtype "$dtype" --seed "$seed" --out "test/golden/fixtures/$name.json"
done
# Tokenizer + chat template fixtures: one per tokenizer flavour (Llama-2 style and ChatML).
"$PY" tools/oracle/tokenizer_golden.py --model "$MODELS/tiny-f32" --case tokenizer-tiny --preset tiny \
  --out test/golden/fixtures/tokenizer-tiny.json
"$PY" tools/oracle/tokenizer_golden.py --model "$MODELS/tiny-qwen2" --case tokenizer-tiny-qwen2 \
  --preset tiny-qwen2 --out test/golden/fixtures/tokenizer-tiny-qwen2.json
# Checkpoints that transformers 5 writes itself (rope_parameters, head_dim, chat_template.jinja),
# committed under test/golden/checkpoints, and their fixtures.
"$PY" tools/oracle/hf5_checkpoints.py --out test/golden/checkpoints
for c in hf5-llama3-rope hf5-qwen2; do
  "$PY" tools/oracle/golden.py --model "test/golden/checkpoints/$c" --checkpoint "test/golden/checkpoints/$c" \
    --case "$c" --dtype bf16 --out "test/golden/fixtures/$c.json"
  "$PY" tools/oracle/tokenizer_golden.py --model "test/golden/checkpoints/$c" --checkpoint "test/golden/checkpoints/$c" \
    --case "tokenizer-$c" --out "test/golden/fixtures/tokenizer-$c.json"
done
