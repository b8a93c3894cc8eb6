// Tensor parallelism on CPU: prefill and decode tokens/s at TP=1 vs TP=N (default 2) for the small
// preset (f32 and bf16), same total thread count (the ranks split it). Before timing, each TP engine
// is validated against TP=1: prompt logits within 1e-3 and the same greedy tokens.
// Timings are printed, never asserted. On a 2-core machine TP cannot add compute: what it shows is
// the cost of the rank threads and their 4 barriers per layer (2 all-reduces).
//
//   npm run bench -- tp [--threads 2] [--tp 2] [--models small] [--dtypes f32,bf16]
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ensureDefaultModel, type ModelDtype, type ModelPresetName } from "@radixserve/core";
import { type Engine, loadEngine } from "@radixserve/engine-native";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    tp: { type: "string", default: "2" },
    models: { type: "string", default: "small" },
    dtypes: { type: "string", default: "f32,bf16" },
  },
});
const threads = Number(values.threads);
const tpN = Number(values.tp);
const PROMPT = 256;
const DECODE_BATCHES = [1, 8];
const DECODE_STEPS = 24;

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

/** Prompt logits and 4 greedy tokens: what the TP engine must reproduce. */
async function reference(e: Engine): Promise<{ logits: Float32Array; greedy: number[] }> {
  const prompt = tokens(40, 9);
  const table = blocksFor(0, 3);
  const [o] = await e.step([
    { tokens: prompt, startPos: 0, blockTable: table, sample: true, returnLogits: "last" },
  ]);
  const greedy = [o!.token];
  for (let i = 0; i < 3; i++) {
    const [d] = await e.step([
      { tokens: Int32Array.of(greedy[i]!), startPos: 40 + i, blockTable: table, sample: true },
    ]);
    greedy.push(d!.token);
  }
  return { logits: o!.logits!, greedy };
}

async function prefillRate(e: Engine): Promise<number> {
  const prompt = tokens(PROMPT, 1);
  const table = blocksFor(0, Math.ceil(PROMPT / e.info.blockSize));
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    await e.step([{ tokens: prompt, startPos: 0, blockTable: table, sample: true }]);
    best = Math.min(best, performance.now() - t0);
  }
  return (PROMPT * 1000) / best;
}

async function decodeRate(e: Engine, batch: number): Promise<number> {
  const per = Math.ceil((64 + DECODE_STEPS + 1) / e.info.blockSize);
  const tables = Array.from({ length: batch }, (_, i) => blocksFor(i * per, per));
  let last = (
    await e.step(
      tables.map((t, i) => ({ tokens: tokens(64, 50 + i), startPos: 0, blockTable: t, sample: true })),
    )
  ).map((o) => o!.token);
  const times: number[] = [];
  for (let s = 0; s < DECODE_STEPS; s++) {
    const t0 = performance.now();
    const out = await e.step(
      last.map((tok, i) => ({
        tokens: Int32Array.of(tok),
        startPos: 64 + s,
        blockTable: tables[i]!,
        sample: true,
      })),
    );
    times.push(performance.now() - t0);
    last = out.map((o) => o!.token);
  }
  times.sort((a, b) => a - b);
  return (batch * 1000) / times[Math.floor(times.length / 2)]!;
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const rows: string[][] = [];
for (const preset of values.models.split(",") as ModelPresetName[]) {
  for (const dtype of values.dtypes.split(",") as ModelDtype[]) {
    const dir = await ensureDefaultModel(undefined, { preset, dtype });
    const rates: Record<number, number[]> = {};
    let ref: Awaited<ReturnType<typeof reference>> | null = null;
    for (const tp of [1, tpN]) {
      const e = await loadEngine({ modelPath: dir, threads, tpSize: tp, kvCacheBlocks: 8 * 8 + 8 });
      const got = await reference(e);
      if (!ref) ref = got;
      else {
        let worst = 0;
        for (let i = 0; i < got.logits.length; i++)
          worst = Math.max(worst, Math.abs(got.logits[i]! - ref.logits[i]!));
        check(worst < 1e-3, `${preset} ${dtype} TP=${tp} logits within 1e-3 of TP=1 (max diff ${worst})`);
        check(
          got.greedy.join() === ref.greedy.join(),
          `${preset} ${dtype} TP=${tp} greedy tokens equal TP=1`,
        );
      }
      rates[tp] = [await prefillRate(e)];
      for (const b of DECODE_BATCHES) rates[tp]!.push(await decodeRate(e, b));
      e.free();
    }
    const one = rates[1]!;
    const many = rates[tpN]!;
    rows.push([
      `${preset} ${dtype}`,
      ...one.flatMap((r, i) => [fmt(r), fmt(many[i]!), (many[i]! / r).toFixed(2)]),
    ]);
    process.stderr.write(`done ${preset} ${dtype}\n`);
  }
}

const header = ["model"];
for (const what of [`pp${PROMPT}`, ...DECODE_BATCHES.map((b) => `tg b${b}`)])
  header.push(`${what} TP=1`, `${what} TP=${tpN}`, "ratio");
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padStart(widths[i]!)).join(" | ")} |`;
console.log(
  `\nTP bench (tok/s): ${threads} threads in total, split across the ranks; prefill = best of 3, decode = median ` +
    `of ${DECODE_STEPS} steps; load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
