// Our engine on the shapes bench/peer/engine_peer.py measures on llama.cpp: prefill tok/s for 128-
// and 512-token prompts (best of 5 after a validated warm-up) and aggregate greedy decode tok/s at
// batch 1, 8 and 32 after 128-token prompts (32 steps at batch 1, 16 otherwise), from the median
// step time (bench/engine/main.ts uses the mean). Same prompts
// (the LCG below, also in engine_peer.py) and the same validation as bench/engine/main.ts, whose
// functions this mirrors because that script runs on import and prints a table, not numbers.
import { performance } from "node:perf_hooks";
import type { Engine } from "@radixserve/engine-native";

export const PROMPT_LENS = [128, 512] as const;
export const BATCHES = [1, 8, 32] as const;
export const DECODE_PROMPT = 128;

/** Metric name -> tok/s, the keys engine_peer.py prints: pp128, pp512, tg_b1, tg_b8, tg_b32. */
export type ShapeRates = Record<string, number>;

/** The prompt LCG of bench/engine/main.ts: ids 3 .. 31002. */
export function promptTokens(n: number, seed: number): Int32Array {
  let s = seed >>> 0 || 1;
  return Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % 31000);
  });
}

const blocks = (first: number, n: number) => Int32Array.from({ length: n }, (_, i) => first + i);

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`bench validation failed: ${what}`);
}

/** KV blocks the shapes need at once: 32 sequences of 128 + 16 + 1 tokens, plus one alone. */
export function kvBlocksNeeded(blockSize: number): number {
  const perSeq = Math.ceil((DECODE_PROMPT + 32 + 1) / blockSize);
  return Math.max((Math.max(...BATCHES) + 1) * perSeq, Math.ceil(Math.max(...PROMPT_LENS) / blockSize));
}

async function prefillRate(e: Engine, n: number, reps: number): Promise<number> {
  const prompt = promptTokens(n, n);
  const table = blocks(0, Math.ceil(n / e.info.blockSize));
  const [o] = await e.step([
    { tokens: prompt, startPos: 0, blockTable: table, sample: true, returnLogits: "last" },
  ]);
  check(o?.logits?.every(Number.isFinite) === true, `prefill ${n} logits are finite`);
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < reps; rep++) {
    const t0 = performance.now();
    await e.step([{ tokens: prompt, startPos: 0, blockTable: table, sample: true }]);
    best = Math.min(best, performance.now() - t0);
  }
  return (n * 1000) / best;
}

async function decodeRate(e: Engine, batch: number, steps: number): Promise<number> {
  const perSeq = Math.ceil((DECODE_PROMPT + steps + 1) / e.info.blockSize);
  const tables = Array.from({ length: batch }, (_, i) => blocks(i * perSeq, perSeq));
  const prompts = Array.from({ length: batch }, (_, i) => promptTokens(DECODE_PROMPT, 100 + i));
  // Validation: sequence 0 decoded alone picks the same greedy tokens as inside the batch.
  const aloneTable = blocks(batch * perSeq, perSeq);
  const [p0] = await e.step([{ tokens: prompts[0]!, startPos: 0, blockTable: aloneTable, sample: true }]);
  const [d0] = await e.step([
    { tokens: Int32Array.of(p0!.token), startPos: DECODE_PROMPT, blockTable: aloneTable, sample: true },
  ]);
  const first = await e.step(
    prompts.map((p, i) => ({ tokens: p, startPos: 0, blockTable: tables[i]!, sample: true })),
  );
  check(first[0]!.token === p0!.token, "batched prefill matches the single-sequence greedy token");
  let last = first.map((o) => o!.token);
  const stepMs: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const out = await e.step(
      last.map((tok, i) => ({
        tokens: Int32Array.of(tok),
        startPos: DECODE_PROMPT + s,
        blockTable: tables[i]!,
        sample: true,
      })),
    );
    stepMs.push(performance.now() - t0);
    if (s === 0)
      check(out[0]!.token === d0!.token, "batched decode matches the single-sequence greedy token");
    last = out.map((o) => o!.token);
  }
  return (batch * 1000) / median(stepMs);
}

/** The median step time resists the shared machine's bursts (a neighbour's compile) better than the mean. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Measures every shape on a loaded engine (its pool must hold kvBlocksNeeded blocks). */
export async function measureEngineShapes(e: Engine, reps = 5): Promise<ShapeRates> {
  const rates: ShapeRates = {};
  for (const n of PROMPT_LENS) rates[`pp${n}`] = await prefillRate(e, n, reps);
  for (const b of BATCHES) rates[`tg_b${b}`] = await decodeRate(e, b, b === 1 ? 32 : 16);
  return rates;
}
