// Engine throughput: prefill tokens/s (prompt 128 and 512) and aggregate decode tokens/s at batch
// 1, 8 and 32, for the tiny and small presets in f32 and bf16, on 2 threads.
// Every measurement is validated first (finite logits; a sequence decoded inside a batch picks the
// same greedy token as alone). Timings are printed, never asserted.
//
//   node --import tsx bench/engine/main.ts [--threads N] [--models tiny,small] [--dtypes f32,bf16]
//     [--prompts 128,512] [--batches 1,8,32] [--json]
// --json prints one JSON object per model instead of the table (for before/after comparisons:
// RADIXSERVE_ENGINE_ADDON=/path/to/old.node runs another build of the addon).
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ensureDefaultModel, type ModelDtype, type ModelPresetName } from "@radixserve/core";
import { type Engine, loadEngine } from "@radixserve/engine-native";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    models: { type: "string", default: "tiny,small" },
    dtypes: { type: "string", default: "f32,bf16" },
    prompts: { type: "string", default: "128,512" },
    batches: { type: "string", default: "1,8,32" },
    json: { type: "boolean", default: false },
  },
});
const threads = Number(values.threads);
const PROMPTS = values.prompts.split(",").map(Number);
const BATCHES = values.batches.split(",").map(Number);
for (const n of [...PROMPTS, ...BATCHES])
  if (!Number.isInteger(n) || n < 1) throw new Error(`--prompts/--batches: '${n}' is not a positive integer`);
const DECODE_PROMPT = 128;

// llama.cpp on a 2-vCPU AMD EPYC (2 threads), measured once on that machine and copied here (not
// measured in this run). Its F16 numbers stand in for our bf16 (both are 2-byte weights widened in registers).
const LLAMA_CPP: Record<string, Record<string, number | undefined>> = {
  "tiny f32": { pp512: 8860, b1: 456 },
  "tiny bf16": { pp512: 9840, b1: 444 },
  "small f32": { pp512: 874, b1: 75 },
  "small bf16": { pp512: 1267, b1: 147 },
};

function tokens(n: number, seed: number): Int32Array {
  let s = seed >>> 0 || 1;
  return Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % 31000);
  });
}

const blocksFor = (first: number, n: number) => Int32Array.from({ length: n }, (_, i) => first + i);

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`bench validation failed: ${what}`);
}

async function prefillRate(e: Engine, n: number): Promise<number> {
  const prompt = tokens(n, n);
  const table = blocksFor(0, Math.ceil(n / e.info.blockSize));
  const [o] = await e.step([
    { tokens: prompt, startPos: 0, blockTable: table, sample: true, returnLogits: "last" },
  ]);
  check(o!.logits!.every(Number.isFinite), "prefill logits are finite");
  let best = Infinity;
  let bestCpu = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await e.step([{ tokens: prompt, startPos: 0, blockTable: table, sample: true }]);
    best = Math.min(best, performance.now() - t0);
    const c = process.cpuUsage(c0);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1000);
  }
  cpuRates.push((n * 1000) / bestCpu);
  return (n * 1000) / best;
}

// Tokens per CPU-second of this process (all its threads), per measurement in order: on a shared
// machine wall-clock rates mostly measure how much of the cores we got; this measures the work.
const cpuRates: number[] = [];

async function decodeRate(e: Engine, batch: number, steps: number): Promise<number> {
  const bs = e.info.blockSize;
  const perSeq = Math.ceil((DECODE_PROMPT + steps + 1) / bs);
  const tables = Array.from({ length: batch }, (_, i) => blocksFor(i * perSeq, perSeq));
  const prompts = Array.from({ length: batch }, (_, i) => tokens(DECODE_PROMPT, 100 + i));
  // Validation: sequence 0's first decode token alone == inside the batch.
  const aloneTable = blocksFor(batch * perSeq, perSeq);
  const [p0] = await e.step([{ tokens: prompts[0]!, startPos: 0, blockTable: aloneTable, sample: true }]);
  const [d0] = await e.step([
    { tokens: Int32Array.from([p0!.token]), startPos: DECODE_PROMPT, blockTable: aloneTable, sample: true },
  ]);
  const first = await e.step(
    prompts.map((p, i) => ({ tokens: p, startPos: 0, blockTable: tables[i]!, sample: true })),
  );
  check(first[0]!.token === p0!.token, "batched prefill matches the single-sequence greedy token");
  let last = first.map((o) => o!.token);
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const out = await e.step(
      last.map((tok, i) => ({
        tokens: Int32Array.from([tok]),
        startPos: DECODE_PROMPT + s,
        blockTable: tables[i]!,
        sample: true,
      })),
    );
    times.push(performance.now() - t0);
    if (s === 0)
      check(out[0]!.token === d0!.token, "batched decode matches the single-sequence greedy token");
    last = out.map((o) => o!.token);
  }
  const cpu = process.cpuUsage(cpu0);
  cpuRates.push((batch * steps * 1e6) / (cpu.user + cpu.system));
  // The median step: on a shared machine a few steps land on a busy core and take 10x longer.
  times.sort((a, b) => a - b);
  return (batch * 1000) / times[Math.floor(times.length / 2)]!;
}

const fmt = (x: number | undefined) => (x === undefined ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1));

const rows: string[][] = [];
for (const preset of values.models.split(",") as ModelPresetName[]) {
  for (const dtype of values.dtypes.split(",") as ModelDtype[]) {
    const dir = await ensureDefaultModel(undefined, { preset, dtype });
    const e = await loadEngine({ modelPath: dir, threads, kvCacheBlocks: 32 * 12 + 12 });
    const label = `${preset} ${dtype}`;
    const prefill: number[] = [];
    for (const n of PROMPTS) prefill.push(await prefillRate(e, n));
    const decode: number[] = [];
    for (const b of BATCHES) decode.push(await decodeRate(e, b, b === 1 ? 32 : 16));
    if (values.json) {
      const row: Record<string, number | string> = { model: preset, dtype, simd: e.info.simd, threads };
      const cpu = cpuRates.splice(0);
      const round = (x: number | undefined) => Number((x ?? Number.NaN).toFixed(1));
      for (const [i, n] of PROMPTS.entries()) {
        row[`pp${n}`] = round(prefill[i]);
        row[`cpu_pp${n}`] = round(cpu[i]);
      }
      for (const [i, b] of BATCHES.entries()) {
        row[`tg_b${b}`] = round(decode[i]);
        row[`cpu_tg_b${b}`] = round(cpu[PROMPTS.length + i]);
      }
      row.loadavg = Number(loadavg()[0]!.toFixed(1));
      console.log(JSON.stringify(row));
    }
    const ref = LLAMA_CPP[label] ?? {};
    rows.push([
      label,
      e.info.simd,
      ...prefill.map(fmt),
      ...decode.map(fmt),
      fmt(ref.pp512),
      fmt(ref.b1),
      ref.pp512 && PROMPTS.includes(512) ? (prefill[PROMPTS.indexOf(512)]! / ref.pp512).toFixed(2) : "-",
      ref.b1 && BATCHES.includes(1) ? (decode[BATCHES.indexOf(1)]! / ref.b1).toFixed(2) : "-",
    ]);
    cpuRates.length = 0;
    e.free();
    process.stderr.write(`done ${label}\n`);
  }
}

if (values.json) process.exit(0);
const header = [
  "model",
  "simd",
  ...PROMPTS.map((n) => `pp${n} tok/s`),
  ...BATCHES.map((b) => `tg b${b} tok/s`),
  "llama.cpp pp512*",
  "llama.cpp tg b1*",
  "pp512 ratio",
  "tg b1 ratio",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padStart(widths[i]!)).join(" | ")} |`;
console.log(
  `\nengine bench: ${threads} threads; prefill = best of 3, decode = median step after a ${DECODE_PROMPT}-token prompt; ` +
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
console.log(
  "* llama.cpp columns were measured once on a 2-vCPU AMD EPYC (not in this run); bf16 rows are compared with its F16.",
);
