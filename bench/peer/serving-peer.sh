#!/usr/bin/env bash
# The serving peer: llama.cpp's own server (llama-server: continuous
# batching over --parallel slots, per-slot prompt cache) on the GGUF of the same tiny model, and
# RadixServe's cluster (radix cache on and off), driven by the same bench/serving workload.
# Results are printed as one JSON line per run (bench/serving/main.ts --json-stdout) plus a table.
#
#   bash bench/peer/serving-peer.sh [CONCURRENCY ...]        (default: 1 8 32)
#
# Environment:
#   LLAMA_SERVER   llama-server binary (default /work/peer-build/server-build/bin/llama-server;
#                  bench/peer/README.md builds it from llama-cpp-python's vendored llama.cpp)
#   PEER_PYTHON    the venv of tools/peer/README.md (default /work/venv-peer/bin/python)
#   SLOTS          llama-server --parallel (default 8); THREADS (default 2)
#   WORKLOADS      default "generated-shared-prefix random"
#   SKIP_OURS=1    run llama-server only; SKIP_PEER=1 run our cluster only
#   OURS_ARGS      launcher flags (default "--disagg-mode unified": one worker process, the
#                  baseline that matches one llama-server; "" runs the default prefill + decode pair,
#                  where the decode worker needs the radix cache, so only the cache-on run works)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY="${PEER_PYTHON:-/work/venv-peer/bin/python}"
LLAMA_SERVER="${LLAMA_SERVER:-/work/peer-build/server-build/bin/llama-server}"
SLOTS="${SLOTS:-8}"
THREADS="${THREADS:-2}"
WORKLOADS="${WORKLOADS:-generated-shared-prefix random}"
CONCURRENCY=("$@")
[ ${#CONCURRENCY[@]} -eq 0 ] && CONCURRENCY=(1 8 32)
export RADIXSERVE_CACHE="${RADIXSERVE_CACHE:-$ROOT/.cache}" # the launcher's cache (bench/serving/launch.ts)
export RADIXSERVE_LOG_LEVEL="${RADIXSERVE_LOG_LEVEL:-warn}"
OUT="${OUT:-$(mktemp -d /tmp/serving-peer.XXXXXX)}"
mkdir -p "$OUT"

for f in "$LLAMA_SERVER" "$PY"; do
  [ -x "$f" ] || { echo "serving-peer: $f not found (see bench/peer/README.md)" >&2; exit 2; }
done

# The same model directory the launcher serves, and its GGUF (tools/peer/hf_to_gguf.py).
MODEL_DIR=$(node --import tsx -e \
  'import("./packages/core/src/model/index.ts").then((m) => m.ensureDefaultModel()).then((d) => console.log(d))')
GGUF="$RADIXSERVE_CACHE/gguf/$(basename "$MODEL_DIR").gguf"
if [ ! -s "$GGUF" ] || [ "$MODEL_DIR/model.safetensors" -nt "$GGUF" ]; then
  mkdir -p "$(dirname "$GGUF")"
  "$PY" tools/peer/hf_to_gguf.py "$MODEL_DIR" "$GGUF" --outtype auto >/dev/null
fi

workload_args() { # the gateway bench's defaults, spelled out so both servers get the same requests
  case $1 in
    generated-shared-prefix)
      echo "--workload generated-shared-prefix --gsp-num-groups 4 --gsp-prompts-per-group 16 --gsp-system-prompt-len 512 --gsp-question-len 32 --gsp-output-len 32" ;;
    random) echo "--workload random --num-prompts 64 --random-input-len 256 --random-output-len 64" ;;
    *) echo "serving-peer: unknown workload $1" >&2; exit 2 ;;
  esac
}

bench() { # LABEL ARGS...: one bench/serving run, its JSON summary tagged with LABEL
  local label=$1
  shift
  local json
  # The bench exits non-zero when any request failed but still prints its summary (with "failed").
  json=$(node --import tsx bench/serving/main.ts "$@" --json-stdout 2>"$OUT/$label.err") || true
  if [ -z "$json" ]; then
    echo "serving-peer: $label failed: $(tail -3 "$OUT/$label.err")" >&2
    return 1
  fi
  echo "{\"run\":\"$label\",\"summary\":$json}" | tee -a "$OUT/results.jsonl"
}

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
trap stop_server EXIT

OURS_ARGS="${OURS_ARGS---disagg-mode unified}"

# llama-server: SLOTS slots sharing one unified KV cache of 1024 tokens per slot (the longest
# request is 576 tokens), THREADS threads for decode and prefill, prompt cache on (its default).
if [ "${SKIP_PEER:-0}" != 1 ]; then
PORT=$((39000 + RANDOM % 1000))
"$LLAMA_SERVER" -m "$GGUF" -t "$THREADS" -tb "$THREADS" -np "$SLOTS" -c $((SLOTS * 1024)) -kvu \
  --host 127.0.0.1 --port "$PORT" --no-webui >"$OUT/llama-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "serving-peer: llama-server exited: $(tail -3 "$OUT/llama-server.log")" >&2; exit 1; }
  sleep 0.5
done
for w in $WORKLOADS; do
  for c in "${CONCURRENCY[@]}"; do
    # shellcheck disable=SC2046
    bench "llama-server-$w-c$c" --base-url "http://127.0.0.1:$PORT/v1" --tokenizer-path "$MODEL_DIR" \
      $(workload_args "$w") --max-concurrency "$c" || true
  done
done
stop_server
fi

if [ "${SKIP_OURS:-0}" != 1 ]; then
  for w in $WORKLOADS; do
    for c in "${CONCURRENCY[@]}"; do
      # shellcheck disable=SC2046
      bench "radixserve-$w-c$c" --launch --launch-args="$OURS_ARGS" $(workload_args "$w") \
        --max-concurrency "$c" || true
      # shellcheck disable=SC2046
      bench "radixserve-nocache-$w-c$c" --launch --launch-args="$OURS_ARGS" --disable-radix-cache \
        $(workload_args "$w") --max-concurrency "$c" || true
    done
  done
fi

node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const f = (x, d = 1) => (typeof x === "number" ? x.toFixed(d) : "-");
console.log("| run | out tok/s | req/s | TTFT p50 / p99 ms | ITL p50 / p99 ms | cache hit | failed |");
console.log("|---|---|---|---|---|---|---|");
for (const { run, summary: s } of rows)
  console.log(`| ${run} | ${f(s.outputTokenThroughput)} | ${f(s.requestThroughput, 2)} | ${f(s.ttftMs.p50)} / ${f(s.ttftMs.p99)} | ${f(s.itlMs.p50)} / ${f(s.itlMs.p99)} | ${f(s.cacheHitRate, 3)} | ${s.failed} |`);
' "$OUT/results.jsonl"
echo "serving-peer: results in $OUT/results.jsonl"
