import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHashSeed } from "@radixserve/core";
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
