// Where a step's time goes: runs one shape (prefill of N tokens, or decode at batch B) repeatedly
// with RADIXSERVE_PROFILE set, so the engine prints its per-section times (forward.cc) to stderr.
//
//   node --import tsx bench/engine/profile.ts [--model small] [--dtype f32] [--prefill 512 | --batch 1]
//     [--steps 64] [--threads 2]
import { parseArgs } from "node:util";
import { ensureDefaultModel, type ModelDtype, type ModelPresetName } from "@radixserve/core";
import { loadEngine } from "@radixserve/engine-native";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "small" },
    dtype: { type: "string", default: "f32" },
    prefill: { type: "string" },
    batch: { type: "string", default: "1" },
    steps: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
  },
});
const steps = Number(values.steps);
for (const [flag, v] of Object.entries({
  steps: values.steps,
  batch: values.batch,
  prefill: values.prefill ?? "1",
}))
  if (!/^[1-9][0-9]*$/.test(v)) throw new Error(`--${flag}: '${v}' is not a positive integer`);
process.env.RADIXSERVE_PROFILE ??= String(steps);
const dir = await ensureDefaultModel(undefined, {
  preset: values.model as ModelPresetName,
  dtype: values.dtype as ModelDtype,
});
const e = await loadEngine({ modelPath: dir, threads: Number(values.threads), kvCacheBlocks: 32 * 12 + 12 });
const bs = e.info.blockSize;
const ids = (n: number, seed: number) =>
  Int32Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + seed * 104729) % 31000));
if (values.prefill) {
  const n = Number(values.prefill);
  const table = Int32Array.from({ length: Math.ceil(n / bs) }, (_, i) => i);
  for (let s = 0; s < steps; s++)
    await e.step([{ tokens: ids(n, s), startPos: 0, blockTable: table, sample: true }]);
} else {
  const batch = Number(values.batch);
  const prompt = 128;
  const perSeq = Math.ceil((prompt + steps + 1) / bs);
  const tables = Array.from({ length: batch }, (_, i) =>
    Int32Array.from({ length: perSeq }, (_, j) => i * perSeq + j),
  );
  let last = (
    await e.step(tables.map((t, i) => ({ tokens: ids(prompt, i), startPos: 0, blockTable: t, sample: true })))
  ).map((o) => o!.token);
  for (let s = 0; s < steps; s++) {
    const out = await e.step(
      last.map((tok, i) => ({
        tokens: Int32Array.from([tok]),
        startPos: prompt + s,
        blockTable: tables[i]!,
        sample: true,
      })),
    );
    last = out.map((o) => o!.token);
  }
}
e.free();
