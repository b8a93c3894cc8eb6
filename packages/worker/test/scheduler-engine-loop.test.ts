import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHashSeed } from "@radixserve/core";
import { EngineError, type StepSequence } from "@radixserve/engine-native";
import { EngineLoop } from "../src/scheduler/engine-loop.js";
import type { RequestEvent } from "../src/scheduler/request.js";
import { Scheduler } from "../src/scheduler/scheduler.js";
import { FakeEngine } from "./scheduler-fake-engine.js";

test("engine loop: runs concurrent requests to completion in mixed batches, sleeps when idle, stops", async () => {
  const s = new Scheduler({
    blockSize: 4,
    numBlocks: 128,
    maxRunningRequests: 4,
    maxQueuedRequests: 64,
    chunkedPrefillSize: 8,
    maxPrefillTokens: 16,
    maxContextLength: 256,
    vocabSize: 500,
    eosTokenIds: [],
    enablePrefixCache: true,
    hashSeed: blockHashSeed("loop"),
  });
  const e = new FakeEngine(128, 4, 500);
  const batchSizes: number[] = [];
  const loop = new EngineLoop(e, s, undefined, { onStep: (b) => batchSizes.push(b.seqs.length) });
  loop.start();
  const done = Array.from(
    { length: 10 },
    (_, i) =>
      new Promise<RequestEvent>((resolve) => {
        const r = s.submit(
          {
            id: `r${i}`,
            inputIds: Array.from({ length: 12 + i }, (_, j) => j + 1),
            sampling: {},
            maxNewTokens: 6,
          },
          (ev) => {
            if (ev.type !== "token") resolve(ev);
          },
        );
        assert.ok(r.ok);
      }),
  );
  const ends = await Promise.all(done);
  for (const ev of ends) assert.equal(ev.type === "finished" && ev.usage.completionTokens, 6);
  assert.ok(Math.max(...batchSizes) > 1, "requests were batched together");
  assert.ok(Math.max(...batchSizes) <= 4, "never more than max_running_requests");
  assert.equal(s.idle, true);
  const stepsBefore = e.steps.length;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(e.steps.length, stepsBefore, "no steps while idle");
  await loop.stop();
  assert.deepEqual(s.checkIntegrity(), []);
});

test("engine loop: a failing engine step ends its requests with `internal` and frees their blocks", async () => {
  const s = new Scheduler({
    blockSize: 4,
    numBlocks: 16,
    maxRunningRequests: 4,
    maxQueuedRequests: 8,
    chunkedPrefillSize: 8,
    maxPrefillTokens: 16,
    maxContextLength: 64,
    vocabSize: 100,
    eosTokenIds: [],
    enablePrefixCache: true,
    hashSeed: blockHashSeed("fail"),
  });
  let calls = 0;
  const broken = {
    step: () => {
      calls++;
      if (calls === 1) throw new Error("synchronous validation error");
      return Promise.reject(new Error("kernel exploded"));
    },
  };
  const loop = new EngineLoop(broken, s);
  loop.start();
  const ends = await Promise.all(
    ["a", "b"].map(
      (id) =>
        new Promise<RequestEvent>((resolve) => {
          s.submit({ id, inputIds: [1, 2, 3, 4, 5], sampling: {}, maxNewTokens: 4 }, (ev) => {
            if (ev.type !== "token") resolve(ev);
          });
        }),
    ),
  );
  for (const ev of ends) {
    assert.equal(ev.type, "error");
    if (ev.type === "error") {
      assert.equal(ev.error.code, "internal");
      assert.match(ev.error.message, /engine step failed: (synchronous validation error|kernel exploded)/);
    }
  }
  await loop.stop();
  assert.equal(s.stats().kvBlocksFree + s.stats().kvBlocksEvictable, 16);
  assert.deepEqual(s.checkIntegrity(), []);
});

/** A fault at the engine seam: steps holding a sequence with the POISON token throw. */
const POISON = 499;
function faultyEngine(inner: FakeEngine, when: "before" | "after") {
  let faults = 0;
  return {
    get faults() {
      return faults;
    },
    async step(seqs: StepSequence[]) {
      const poisoned = seqs.some((s) => s.tokens.includes(POISON));
      if (poisoned && when === "before") {
        faults++;
        throw new EngineError("input_invalid", "seqs[?].tokens: injected fault");
      }
      const out = await inner.step(seqs); // "after": the step ran (KV written), then it fails
      if (poisoned) {
        faults++;
        throw new EngineError("native_failure", "injected fault after the step ran");
      }
      return out;
    },
  };
}

function isolationScheduler(seed: string): Scheduler {
  return new Scheduler({
    blockSize: 4,
    numBlocks: 256,
    maxRunningRequests: 16,
    maxQueuedRequests: 64,
    chunkedPrefillSize: 8,
    maxPrefillTokens: 64,
    maxContextLength: 256,
    vocabSize: 500,
    eosTokenIds: [],
    enablePrefixCache: true,
    hashSeed: blockHashSeed(seed),
  });
}

async function runAll(s: Scheduler, prompts: number[][]): Promise<{ tokens: number[]; end: RequestEvent }[]> {
  return Promise.all(
    prompts.map(
      (inputIds, i) =>
        new Promise<{ tokens: number[]; end: RequestEvent }>((resolve) => {
          const tokens: number[] = [];
          const r = s.submit({ id: `q${i}`, inputIds, sampling: {}, maxNewTokens: 10 }, (ev) => {
            if (ev.type === "token") tokens.push(ev.tokenId);
            else resolve({ tokens, end: ev });
          });
          assert.ok(r.ok);
        }),
    ),
  );
}

for (const when of ["before", "after"] as const) {
  test(`engine loop: a step that throws (${when} it ran) fails only the culprit; the other 8 finish with their own tokens, no block leaks`, async () => {
    const prompts = Array.from({ length: 8 }, (_, i) =>
      Array.from({ length: 10 + i }, (_, j) => 1 + ((i * 7 + j) % 400)),
    );
    const poisoned = [5, 6, POISON, 7, 8, 9];

    const clean = isolationScheduler(`iso-${when}`);
    const cleanLoop = new EngineLoop(new FakeEngine(256, 4, 500), clean);
    cleanLoop.start();
    const reference = await runAll(clean, prompts);
    await cleanLoop.stop();

    const s = isolationScheduler(`iso-${when}`);
    const engine = faultyEngine(new FakeEngine(256, 4, 500), when);
    const loop = new EngineLoop(engine, s);
    loop.start();
    const results = await runAll(s, [...prompts.slice(0, 4), poisoned, ...prompts.slice(4)]);
    await loop.stop();

    const bad = results.splice(4, 1)[0]!;
    assert.equal(bad.end.type, "error");
    if (bad.end.type === "error")
      assert.equal(bad.end.error.code, when === "before" ? "invalid_request" : "internal");
    assert.ok(engine.faults >= 2, "the culprit was found by re-running parts of the batch");
    for (const [i, r] of results.entries()) {
      assert.equal(r.end.type, "finished", `q${i}`);
      assert.deepEqual(r.tokens, reference[i]!.tokens, `q${i} tokens match the clean run`);
    }
    assert.deepEqual(s.checkIntegrity(), []);
    s.flushCache();
    assert.equal(s.stats().kvBlocksFree, 256, "every block back on the free list");
  });
}

test("engine loop: an engine that is gone (engine_freed) fails the whole batch at once, without re-runs", async () => {
  const s = isolationScheduler("freed");
  let calls = 0;
  const gone = {
    step: async (_seqs: StepSequence[]) => {
      calls++;
      throw new EngineError("engine_freed", "engine was freed");
    },
  };
  const loop = new EngineLoop(gone, s);
  loop.start();
  const results = await runAll(s, [
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ]);
  await loop.stop();
  for (const r of results) assert.equal(r.end.type === "error" && r.end.error.code, "internal");
  assert.equal(calls, 1);
  assert.deepEqual(s.checkIntegrity(), []);
});
