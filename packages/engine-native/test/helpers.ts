// Shared helpers for the engine tests: generated models (cached per process in a temp folder),
// block tables and logits comparison.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { type ModelDtype, type ModelPresetName, makeModel } from "@radixserve/core";
import { type Engine, type EngineOptions, loadEngine } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "radixserve-engine-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

const made = new Map<string, Promise<string>>();

/** A generated model directory (made once per test process). */
export function testModel(
  preset: ModelPresetName = "tiny",
  dtype: ModelDtype = "f32",
  shards = 1,
): Promise<string> {
  const key = `${preset}-${dtype}-${shards}`;
  let p = made.get(key);
  if (!p) {
    p = makeModel({ preset, dtype, out: join(root, key), shards });
    made.set(key, p);
  }
  return p;
}

/** A fresh scratch directory inside the test root. */
export function scratchDir(name: string): string {
  return mkdtempSync(join(root, `${name}-`));
}

const engines: Engine[] = [];
after(() => {
  for (const e of engines) e.free();
});

/** Loads an engine that is freed when the test file ends. */
export async function openEngine(
  preset: ModelPresetName = "tiny",
  dtype: ModelDtype = "f32",
  opts: Partial<EngineOptions> = {},
): Promise<Engine> {
  const e = await loadEngine({
    modelPath: await testModel(preset, dtype),
    kvCacheBlocks: 64,
    threads: 2,
    ...opts,
  });
  engines.push(e);
  return e;
}

/** Deterministic pseudo-random token ids in [3, vocab). */
export function tokens(n: number, seed: number, vocab = 32000): Int32Array {
  const out = new Int32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = 3 + (s % (vocab - 3));
  }
  return out;
}

/** Block ids first .. first+n-1. */
export function blocks(first: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => first + i);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Runs a whole prompt as one prefill into `table` and returns the last row's logits. */
export async function prefillLogits(e: Engine, toks: Int32Array, table: Int32Array): Promise<Float32Array> {
  const [o] = await e.step([
    { tokens: toks, startPos: 0, blockTable: table, sample: false, returnLogits: "last" },
  ]);
  return o!.logits!;
}
