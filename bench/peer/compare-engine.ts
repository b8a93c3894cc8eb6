// Our engine vs llama.cpp on the same weights, in one run, printed as one table of ratios.
//
// For each model (tiny, small) and weight dtype (f32, f16, bf16): make (or reuse) the HF directory
// with makeModel, convert it to GGUF with tools/peer/hf_to_gguf.py (cached next to the model),
// measure our engine with loadEngine (bench/peer/engine-shapes.ts), then llama.cpp with
// bench/peer/engine_peer.py on the GGUF: the two alternate per model so that the shared machine's
// noise falls on both alike. Timings are printed, never asserted; ours/llama.cpp > 1 means faster.
//
//   node --import tsx bench/peer/compare-engine.ts [--threads 2] [--models tiny,small]
//       [--dtypes f32,f16,bf16] [--python /work/venv-peer/bin/python] [--kv f16] [--rounds N] [--json]
//
// --rounds N repeats both engines' runs N times, alternating, and keeps each metric's best: on a
// shared machine the best round is the least disturbed one, for both engines alike.
//
// The Python side needs the venv of tools/peer/README.md (llama-cpp-python, gguf, numpy); without
// it the table shows our numbers only and says why.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  ensureDefaultModel,
  MODEL_MAKER_VERSION,
  type ModelDtype,
  type ModelPresetName,
  modelCacheRoot,
} from "@radixserve/core";
import { loadEngine } from "@radixserve/engine-native";
import { kvBlocksNeeded, measureEngineShapes, type ShapeRates } from "./engine-shapes.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    models: { type: "string", default: "tiny,small" },
    dtypes: { type: "string", default: "f32,f16,bf16" },
    python: { type: "string", default: process.env["PEER_PYTHON"] ?? "/work/venv-peer/bin/python" },
    kv: { type: "string", default: "f16" },
    rounds: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer`);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`);
if (values.kv !== "f16" && values.kv !== "f32") throw new Error(`--kv must be f16 or f32, got ${values.kv}`);
const BLOCK_SIZE = 16;
const METRICS = ["pp128", "pp512", "tg_b1", "tg_b8", "tg_b32"] as const;
const repo = new URL("../../", import.meta.url).pathname;

/** Why the peer could not run, or null while it can. */
let peerMissing: string | null = existsSync(values.python) ? null : `no Python at ${values.python}`;

function ggufFor(modelDir: string, preset: string, dtype: string): string {
  const dir = join(modelCacheRoot(), "gguf");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${preset}-${dtype}-v${MODEL_MAKER_VERSION}.gguf`);
  const weights = join(modelDir, "model.safetensors");
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(weights).mtimeMs) return out;
  execFileSync(values.python, [join(repo, "tools/peer/hf_to_gguf.py"), modelDir, out, "--outtype", dtype], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return out;
}

function runPeer(preset: string, dtype: string, gguf: string): ShapeRates {
  const stdout = execFileSync(
    values.python,
    [
      join(repo, "bench/peer/engine_peer.py"),
      `${preset}:${dtype}:${gguf}`,
      "--threads",
      `${threads}`,
      "--kv",
      values.kv,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = stdout.trim().split("\n").at(-1) ?? "";
  const row = JSON.parse(line) as Record<string, unknown>;
  const rates: ShapeRates = {};
  for (const m of METRICS) {
    const v = row[m];
    if (typeof v !== "number") throw new Error(`engine_peer.py gave no ${m}: ${line}`);
    rates[m] = v;
  }
  return rates;
}

/** Per metric, the faster of two measurements: the best round is the one the neighbours disturbed least. */
function best(a: ShapeRates, b: ShapeRates): ShapeRates {
  const out: ShapeRates = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

interface Result {
  model: string;
  dtype: string;
  ours: ShapeRates;
  peer: ShapeRates | null;
  /** 1-minute load average when the model's runs began: the machine is shared. */
  load: number;
}

async function measureOurs(dir: string): Promise<ShapeRates> {
  const e = await loadEngine({
    modelPath: dir,
    threads,
    blockSize: BLOCK_SIZE,
    kvCacheBlocks: kvBlocksNeeded(BLOCK_SIZE),
  });
  try {
    return await measureEngineShapes(e);
  } finally {
    e.free();
  }
}

const results: Result[] = [];
for (const preset of values.models.split(",") as ModelPresetName[]) {
  for (const dtype of values.dtypes.split(",") as ModelDtype[]) {
    const dir = await ensureDefaultModel(undefined, { preset, dtype });
    const load = loadavg()[0]!;
    let ours: ShapeRates = {};
    let peer: ShapeRates | null = null;
    for (let round = 0; round < rounds; round++) {
      ours = best(ours, await measureOurs(dir));
      if (!peerMissing) {
        try {
          const p = runPeer(preset, dtype, ggufFor(dir, preset, dtype));
          peer = best(peer ?? {}, p);
        } catch (err) {
          peerMissing = `llama.cpp run failed: ${(err as Error).message.split("\n")[0]}`;
        }
      }
    }
    results.push({ model: preset, dtype, ours, peer, load });
    process.stderr.write(`done ${preset} ${dtype}\n`);
  }
}

if (values.json) {
  for (const r of results) console.log(JSON.stringify(r));
} else {
  const fmt = (x: number | undefined) => (x === undefined ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const header = ["model", "metric (tok/s)", "ours", "llama.cpp", "ours/llama.cpp"];
  const rows: string[][] = [];
  for (const r of results) {
    for (const m of METRICS) {
      const o = r.ours[m];
      const p = r.peer?.[m];
      rows.push([
        `${r.model} ${r.dtype} (load ${r.load.toFixed(1)})`,
        m,
        fmt(o),
        fmt(p),
        o && p ? (o / p).toFixed(2) : "-",
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(
    `\nengine vs llama.cpp: ${threads} threads; ours KV f32, llama.cpp KV ${values.kv}; ` +
      "pp = prefill of a 128/512-token prompt (best of 5), tg_bN = aggregate greedy decode at batch N from the median step; " +
      `best of ${rounds} alternating round(s) per engine`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
  if (peerMissing) console.log(`llama.cpp columns missing: ${peerMissing} (see tools/peer/README.md)`);
}
