/**
 * A fault injected at the engine seam with the real engine: steps that hold the poisoned request
 * throw after the native step ran (its KV already written). The step loop re-runs the batch in
 * parts: only the poisoned request fails; the 8 others finish with exactly the tokens of a clean
 * run (re-running rewrote their KV with the same values), and every block comes back.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { blockHashSeed, makeModel } from "@radixserve/core";
import { type Engine, EngineError, loadEngine, type StepSequence } from "@radixserve/engine-native";
import { EngineLoop, type RequestEvent, Scheduler } from "../src/scheduler/index.js";

const POISON = 31_999;
let dir: string;
let engine: Engine;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "radixserve-fault-"));
  const modelPath = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
  engine = await loadEngine({ modelPath, kvCacheBlocks: 256, threads: 2 });
});

after(() => {
  engine?.free();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function scheduler(): Scheduler {
  return new Scheduler({
    blockSize: engine.info.blockSize,
    numBlocks: engine.info.numBlocks,
    maxRunningRequests: 16,
    maxQueuedRequests: 64,
    chunkedPrefillSize: 32,
    maxPrefillTokens: 256,
    maxContextLength: 512,
    vocabSize: engine.info.vocabSize,
    eosTokenIds: [],
    enablePrefixCache: true,
    hashSeed: blockHashSeed("fault-isolation"),
  });
}

async function run(
  s: Scheduler,
  step: Pick<Engine, "step">,
  prompts: number[][],
): Promise<{ tokens: number[]; end: RequestEvent }[]> {
  const loop = new EngineLoop(step, s);
  loop.start();
  const results = await Promise.all(
    prompts.map(
      (inputIds, i) =>
        new Promise<{ tokens: number[]; end: RequestEvent }>((resolve) => {
          const tokens: number[] = [];
          const r = s.submit(
            { id: `r${i}`, inputIds, sampling: { temperature: 0 }, maxNewTokens: 12 },
            (ev) => {
              if (ev.type === "token") tokens.push(ev.tokenId);
              else resolve({ tokens, end: ev });
            },
          );
          assert.ok(r.ok);
        }),
    ),
  );
  await loop.stop();
  return results;
}

test("engine fault isolation (real engine): a step that throws after it ran fails only the culprit; 8 others unharmed, no block leaks", async () => {
  const prompts = Array.from({ length: 8 }, (_, i) =>
    Array.from({ length: 20 + 9 * i }, (_, j) => 100 + ((i * 977 + j * 31) % 20000)),
  );
  const reference = await run(scheduler(), engine, prompts);

  let faults = 0;
  const faulty: Pick<Engine, "step"> = {
    async step(seqs: StepSequence[]) {
      const out = await engine.step(seqs);
      if (seqs.some((q) => q.tokens.includes(POISON))) {
        faults++;
        throw new EngineError("native_failure", "injected fault after the step ran");
      }
      return out;
    },
  };
  const s = scheduler();
  const poisoned = [5, 6, 7, POISON, 8, 9, 10, 11];
  const results = await run(s, faulty, [...prompts.slice(0, 3), poisoned, ...prompts.slice(3)]);
  const bad = results.splice(3, 1)[0]!;
  assert.equal(bad.end.type === "error" && bad.end.error.code, "internal");
  assert.ok(faults >= 2, "the culprit was isolated by re-running parts of the batch");
  for (const [i, r] of results.entries()) {
    assert.equal(r.end.type, "finished", `r${i}`);
    assert.deepEqual(r.tokens, reference[i]!.tokens, `request ${i}: same tokens as the clean run`);
  }
  assert.deepEqual(s.checkIntegrity(), []);
  s.flushCache();
  assert.equal(s.stats().kvBlocksFree, engine.info.numBlocks);
});
