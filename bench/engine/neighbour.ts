// Noisy-neighbour decode: how much batch-1 and batch-8 decode lose when one busy process shares
// the cores. The bench starts the neighbour itself (a second Node process spinning on one core),
// measures decode quiet / busy / quiet / busy in one run, and prints the loss
// 1 - busy / quiet (quiet = mean of its two runs, busy likewise). Validated first: the batched
// decode's first token equals the single-sequence greedy token. Printed, never asserted.
//
//   node --import tsx bench/engine/neighbour.ts [--threads 2] [--model small] [--dtype bf16]
//     [--batches 1,8] [--steps 32] [--json]
//
// On a machine that is already loaded, "quiet" is only "without our neighbour": the load average
// is printed beside the result so runs compare.
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ensureDefaultModel, type ModelDtype, type ModelPresetName } from "@radixserve/core";
import { type Engine, loadEngine } from "@radixserve/engine-native";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    model: { type: "string", default: "small" },
    dtype: { type: "string", default: "bf16" },
    batches: { type: "string", default: "1,8" },
    steps: { type: "string", default: "32" },
    json: { type: "boolean", default: false },
  },
});

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench/engine/neighbour: --${name} must be a positive integer, got '${v}'\n`);
    process.exit(2);
  }
  return n;
}
const THREADS = positive("threads", values.threads);
const STEPS = positive("steps", values.steps);
const BATCHES = values.batches.split(",").map((b) => positive("batches", b));
const PROMPT = 64;

function tokens(n: number, seed: number): Int32Array {
  let s = seed >>> 0 || 1;
  return Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % 31000);
  });
}
const blocks = (first: number, n: number) => Int32Array.from({ length: n }, (_, i) => first + i);

/** Median decode tok/s of `batch` sequences over STEPS steps (fresh prefill each call). */
async function decodeRate(e: Engine, batch: number): Promise<number> {
  const perSeq = Math.ceil((PROMPT + STEPS + 1) / e.info.blockSize);
  const tables = Array.from({ length: batch }, (_, i) => blocks(i * perSeq, perSeq));
  const out = await e.step(
    tables.map((t, i) => ({ tokens: tokens(PROMPT, 7 + i), startPos: 0, blockTable: t, sample: true })),
  );
  let last = out.map((o) => o!.token);
  const times: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const t0 = performance.now();
    const o = await e.step(
      last.map((tok, i) => ({
        tokens: Int32Array.from([tok]),
        startPos: PROMPT + s,
        blockTable: tables[i]!,
        sample: true,
      })),
    );
    times.push(performance.now() - t0);
    last = o.map((x) => x!.token);
  }
  times.sort((a, b) => a - b);
  return (batch * 1000) / times[Math.floor(times.length / 2)]!;
}

async function validate(e: Engine, batch: number): Promise<void> {
  const perSeq = Math.ceil((PROMPT + 1) / e.info.blockSize);
  const alone = await e.step([
    { tokens: tokens(PROMPT, 7), startPos: 0, blockTable: blocks(batch * perSeq, perSeq), sample: true },
  ]);
  const inBatch = await e.step(
    Array.from({ length: batch }, (_, i) => ({
      tokens: tokens(PROMPT, 7 + i),
      startPos: 0,
      blockTable: blocks(i * perSeq, perSeq),
      sample: true,
    })),
  );
  if (alone[0]!.token !== inBatch[0]!.token)
    throw new Error(`bench validation failed: batch ${batch} disagrees with the single sequence`);
}

/** One busy process: a Node child spinning until killed. */
function startNeighbour(): ChildProcess {
  return spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
}

const dir = await ensureDefaultModel(undefined, {
  preset: values.model as ModelPresetName,
  dtype: values.dtype as ModelDtype,
});
const maxBatch = Math.max(...BATCHES);
const e = await loadEngine({
  modelPath: dir,
  threads: THREADS,
  kvCacheBlocks: (maxBatch + 1) * Math.ceil((PROMPT + STEPS + 1) / 16) + 16,
});
let neighbour: ChildProcess | null = null;
process.on("exit", () => neighbour?.kill("SIGKILL"));
const results: Record<string, number>[] = [];
try {
  for (const b of BATCHES) await validate(e, b);
  for (const b of BATCHES) {
    const quiet: number[] = [];
    const busy: number[] = [];
    for (let round = 0; round < 2; round++) {
      quiet.push(await decodeRate(e, b));
      neighbour = startNeighbour();
      await new Promise((r) => setTimeout(r, 200));
      busy.push(await decodeRate(e, b));
      neighbour.kill("SIGKILL");
      neighbour = null;
    }
    const q = (quiet[0]! + quiet[1]!) / 2;
    const n = (busy[0]! + busy[1]!) / 2;
    results.push({ batch: b, quiet_tok_s: q, busy_tok_s: n, loss: 1 - n / q });
  }
} finally {
  neighbour?.kill("SIGKILL");
  e.free();
}
const load = loadavg()[0]!;
if (values.json) console.log(JSON.stringify({ threads: THREADS, load_average_1m: load, results }));
else {
  console.log(
    `noisy-neighbour decode: ${values.model} ${values.dtype}, ${THREADS} threads, one busy process started by the bench; load average ${load.toFixed(1)}`,
  );
  for (const r of results)
    console.log(
      `  batch ${r["batch"]}: quiet ${r["quiet_tok_s"]!.toFixed(1)} tok/s, busy neighbour ${r["busy_tok_s"]!.toFixed(1)} tok/s, loss ${(100 * r["loss"]!).toFixed(0)}%`,
    );
}
