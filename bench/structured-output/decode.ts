// Decode throughput with and without a token mask applied in native sampling, at batch 1 and 32,
// on a real model (default: the SmolLM2-135M GGUF). The mask is a fixed bitset allowing 1 token in
// 16 (the shape of a JSON grammar's mask mid-string), interleaved with unmasked runs in the same
// process so both see the same machine. Validation first: the masked greedy token is the argmax over
// the allowed tokens. Timings are printed with ratios, never asserted. The grammar engine's own
// mask computation (bench/structured-output/main.ts) comes on top of this, per constrained sequence.
//
//   node --import tsx bench/structured-output/decode.ts --model-path FILE [--threads 2] [--steps 24]
import { parseArgs } from "node:util";
import { type Engine, loadEngine, type SamplingParams } from "@radixserve/engine-native";

const { values } = parseArgs({
  options: {
    "model-path": { type: "string" },
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "24" },
  },
});
if (!values["model-path"]) throw new Error("--model-path is required");
const PROMPT = 64;
const steps = Number(values.steps);
const e: Engine = await loadEngine({
  modelPath: values["model-path"],
  threads: Number(values.threads),
  kvCacheBlocks: 33 * Math.ceil((PROMPT + 2 * steps + 2) / 16),
});
const vocab = e.info.vocabSize;
const mask = new Uint32Array(Math.ceil(vocab / 32));
for (let t = 0; t < vocab; t += 16) mask[t >>> 5]! |= 1 << (t & 31);

const bs = e.info.blockSize;
const perSeq = Math.ceil((PROMPT + steps + 1) / bs);
const table = (i: number) => Int32Array.from({ length: perSeq }, (_, k) => i * perSeq + k);
const prompt = (i: number) =>
  Int32Array.from({ length: PROMPT }, (_, k) => 100 + ((i * 131 + k * 17) % 20000));

async function validate(): Promise<void> {
  const [raw] = await e.step([
    { tokens: prompt(0), startPos: 0, blockTable: table(0), sample: false, returnLogits: "last" },
  ]);
  let best = -1;
  for (let t = 0; t < vocab; t += 16) if (best < 0 || raw!.logits![t]! > raw!.logits![best]!) best = t;
  const [o] = await e.step([
    { tokens: prompt(0), startPos: 0, blockTable: table(0), sample: true, sampling: { allowedTokens: mask } },
  ]);
  if (o!.token !== best)
    throw new Error(`validation: masked greedy ${o!.token} != argmax over allowed ${best}`);
}

/** Median decode step → aggregate tokens/s for `batch` sequences. */
async function decode(batch: number, masked: boolean): Promise<number> {
  const sampling: SamplingParams = { temperature: 1, seed: 7, ...(masked ? { allowedTokens: mask } : {}) };
  const first = await e.step(
    Array.from({ length: batch }, (_, i) => ({
      tokens: prompt(i),
      startPos: 0,
      blockTable: table(i),
      sample: true,
      sampling,
    })),
  );
  let last = first.map((o) => o!.token);
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const out = await e.step(
      last.map((tok, i) => ({
        tokens: Int32Array.of(tok),
        startPos: PROMPT + s,
        blockTable: table(i),
        sample: true,
        sampling,
      })),
    );
    times.push(performance.now() - t0);
    if (masked && out.some((o) => !((mask[o!.token >>> 5]! >>> (o!.token & 31)) & 1)))
      throw new Error("validation: a masked token was sampled");
    last = out.map((o) => o!.token);
  }
  times.sort((a, b) => a - b);
  return (batch * 1000) / times[times.length >> 1]!;
}

await validate();
console.log(
  `model ${values["model-path"]}, vocab ${vocab}, ${values.threads} threads, ${steps} steps, median step`,
);
console.log("batch | free tok/s | masked tok/s | masked / free");
for (const batch of [1, 32]) {
  const free: number[] = [];
  const masked: number[] = [];
  for (let rep = 0; rep < 2; rep++) {
    free.push(await decode(batch, false));
    masked.push(await decode(batch, true));
  }
  const f = Math.max(...free);
  const m = Math.max(...masked);
  console.log(`${batch} | ${f.toFixed(1)} | ${m.toFixed(1)} | ${(m / f).toFixed(3)}x`);
}
