// Speculative decoding (prompt lookup) against plain decoding, on a real model (default: the
// SmolLM2-135M-Instruct GGUF from the model cache), through the worker's scheduler and engine loop
// in one process: batch 1 and 8, a repetition-heavy workload (edit this code, quote a passage,
// transform JSON) and plain chat. Each configuration runs plain and speculative back to back on the
// same engine; greedy outputs are checked identical first (validation), then decode tokens/s,
// acceptance rate and the speed-up are printed. Timings are never asserted.
//
//   node --import tsx bench/spec/main.ts [--model-path FILE] [--threads 2] [--max-tokens 96] [--k 4]
import { parseArgs } from "node:util";
import { blockHashSeed, ChatTemplate, fetchDefaultModel, loadTokenizer } from "@radixserve/core";
import { loadEngine } from "@radixserve/engine-native";
import { EngineLoop, type RequestParams, Scheduler, type SpeculativeConfig } from "@radixserve/worker";
import { CHAT, REPETITIVE } from "./workloads.js";

const { values } = parseArgs({
  options: {
    "model-path": { type: "string" },
    threads: { type: "string", default: "2" },
    "max-tokens": { type: "string", default: "96" },
    k: { type: "string", default: "4" },
  },
});
const modelPath = values["model-path"] ?? (await fetchDefaultModel());
const maxTokens = Number(values["max-tokens"]);
const K = Number(values.k);
const NUM_BLOCKS = 1024;
const engine = await loadEngine({ modelPath, threads: Number(values.threads), kvCacheBlocks: NUM_BLOCKS });
const tokenizer = await loadTokenizer(modelPath);
const template = ChatTemplate.fromTokenizer(tokenizer);
const eos = engine.info.eosTokenIds;

function promptIds(user: string): number[] {
  return tokenizer.encode(template.render([{ role: "user", content: user }]), { addSpecialTokens: false });
}

interface RunResult {
  outputs: number[][];
  decodeTokens: number;
  decodeSeconds: number;
  proposed: number;
  accepted: number;
}

/** Runs the prompts as one batch (all submitted at once); decode time counts from each first token. */
async function run(prompts: number[][], spec?: SpeculativeConfig): Promise<RunResult> {
  const s = new Scheduler({
    blockSize: engine.info.blockSize,
    numBlocks: NUM_BLOCKS,
    maxRunningRequests: prompts.length,
    maxQueuedRequests: 64,
    chunkedPrefillSize: 512,
    maxPrefillTokens: 4096,
    maxContextLength: 2048,
    vocabSize: engine.info.vocabSize,
    eosTokenIds: eos,
    enablePrefixCache: false, // every run computes its prompts: same work with and without drafts
    hashSeed: blockHashSeed("bench-spec"),
    ...(spec ? { speculative: spec } : {}),
  });
  const loop = new EngineLoop(engine, s);
  loop.start();
  let firstAt = 0;
  const outputs = await Promise.all(
    prompts.map(
      (inputIds, i) =>
        new Promise<number[]>((resolve, reject) => {
          const out: number[] = [];
          const params: RequestParams = { id: `b${i}`, inputIds, sampling: {}, maxNewTokens: maxTokens };
          const r = s.submit(params, (ev) => {
            if (ev.type === "token") {
              if (out.length === 0) firstAt = Math.max(firstAt, performance.now());
              out.push(ev.tokenId);
            } else if (ev.type === "finished") resolve(out);
            else if (ev.type === "error") reject(ev.error);
          });
          if (!r.ok) reject(r.error);
        }),
    ),
  );
  const end = performance.now();
  await loop.stop();
  const c = s.speculator?.counters;
  return {
    outputs,
    decodeTokens: outputs.reduce((a, o) => a + o.length - 1, 0),
    decodeSeconds: (end - firstAt) / 1000,
    proposed: c?.proposedTokens ?? 0,
    accepted: c?.acceptedTokens ?? 0,
  };
}

const spec: SpeculativeConfig = { algorithm: "ngram", numDraftTokens: K, maxBatchSize: 8 };
console.log(
  `model ${modelPath}\nthreads ${values.threads}, max_tokens ${maxTokens}, K ${K}, greedy; decode tok/s from the last first token to the end`,
);
console.log("workload      batch  plain tok/s  spec tok/s  speed-up  acceptance  drafts/verify-step");
for (const [name, texts] of [
  ["repetitive", REPETITIVE],
  ["chat", CHAT],
] as const) {
  for (const batch of [1, 8]) {
    const prompts = Array.from({ length: batch }, (_, i) => promptIds(texts[i % texts.length]!));
    await run(prompts.slice(0, 1)); // warm-up
    const plain = await run(prompts);
    const sp = await run(prompts, spec);
    for (let i = 0; i < batch; i++)
      if (JSON.stringify(plain.outputs[i]) !== JSON.stringify(sp.outputs[i]))
        throw new Error(
          `validation: ${name} batch ${batch} request ${i}: greedy output differs with speculation`,
        );
    const pt = plain.decodeTokens / plain.decodeSeconds;
    const st = sp.decodeTokens / sp.decodeSeconds;
    console.log(
      `${name.padEnd(13)} ${String(batch).padStart(5)}  ${pt.toFixed(1).padStart(11)}  ${st.toFixed(1).padStart(10)}  ${(st / pt).toFixed(2).padStart(7)}x  ${(sp.proposed ? sp.accepted / sp.proposed : 0).toFixed(2).padStart(10)}  ${sp.proposed}/${sp.accepted} proposed/accepted`,
    );
  }
}
engine.free();
