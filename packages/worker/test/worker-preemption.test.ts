import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { makeModel } from "@radixserve/core";
import { generate, getLoad, unary, waitForLoad } from "./worker-grpc-client.js";
import { startWorkerProcess, type WorkerProcess } from "./worker-harness.js";

// 12 blocks of 16 = 192 tokens; each request needs 40 + 60 = 100 tokens (7 blocks), so two running
// requests cannot both finish without a preemption.
let dir: string;
let w: WorkerProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "radixserve-preempt-"));
  const modelPath = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
  w = await startWorkerProcess([
    "--model-path",
    modelPath,
    "--kv-cache-blocks",
    "12",
    "--max-running-requests",
    "3",
    "--chunked-prefill-size",
    "32",
    "--threads",
    "2",
  ]);
});

after(async () => {
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("worker: a tight KV pool preempts and recomputes, and greedy tokens equal one-at-a-time runs", async () => {
  const prompts = [0, 1, 2].map((g) =>
    Array.from({ length: 40 }, (_, i) => 500 + g * 1000 + ((i * 31) % 900)),
  );
  const sampling = { temperature: 0, maxNewTokens: 60, ignoreEos: true };
  const together = await Promise.all(
    prompts.map((inputIds, i) => generate(w.client, { requestId: `t${i}`, inputIds, sampling })),
  );
  await waitForLoad(w.client, (l) => l.runningRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal);
  const metrics = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
  const pre = /radixserve_preemptions_total\{role="unified",model_name="[^"]+"\} (\d+)/.exec(metrics);
  assert.ok(pre && Number(pre[1]) > 0, "at least one preemption happened");
  await unary((cb) => w.client.FlushCache({}, cb));
  assert.equal((await getLoad(w.client)).kvBlocksCached, 0);
  for (let i = 0; i < prompts.length; i++) {
    const solo = await generate(w.client, { requestId: `s${i}`, inputIds: prompts[i]!, sampling });
    assert.equal(together[i]!.tokens.length, 60);
    assert.deepEqual(together[i]!.tokens, solo.tokens, `request ${i}: batched + preempted == solo`);
  }
});
