/**
 * The prefill worker checks a handoff's start before it computes or reserves anything: block
 * counts that do not match the prompt, a skip outside it, another model, and bad request values
 * are refused with `invalid_request` naming the problem; nothing leaks and the worker keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  createPrefillClient,
  type GetModelInfoResponse__Output,
  type PrefillClientMessage,
  type PrefillServerMessage__Output,
  type PrefillServiceClient,
} from "@radixserve/core";
import { defaultModel, greedyRequest, prompt, startWorker, type WorkerProc, waitFor } from "./pd-harness.js";

let p: WorkerProc;
let pc: PrefillServiceClient;
let seed: string;

before(async () => {
  const model = await defaultModel();
  p = await startWorker("prefill", ["--model-path", model, "--kv-cache-blocks", "128"]);
  pc = createPrefillClient(p.address);
  const info = await new Promise<GetModelInfoResponse__Output>((resolve, reject) =>
    p.client.getModelInfo({}, (e, r) => (e ? reject(e) : resolve(r!))),
  );
  seed = info.blockHashSeed;
});

after(async () => {
  pc?.close();
  await p?.stop();
});

/** Sends one start; returns the first thing P answers. */
function firstAnswer(start: PrefillClientMessage["start"]): Promise<PrefillServerMessage__Output> {
  return new Promise((resolve, reject) => {
    const call = pc.prefill();
    call.on("data", (m: PrefillServerMessage__Output) => {
      resolve(m);
      call.cancel();
    });
    call.on("error", (e: Error & { code?: number }) => {
      if (e.code !== 1) reject(e); // 1 = CANCELLED: ours, after the answer
    });
    call.write({ start });
  });
}

test("prefill handoff: a start whose blocks, skip, model or values are wrong is refused naming the problem; nothing leaks", async () => {
  const ids = prompt(40, 9); // 3 blocks of 16
  const req = greedyRequest(ids, 1);
  const good = {
    request: req,
    numBlocks: 3,
    skipBlocks: 0,
    blockHashSeed: seed,
    offer: { transport: "grpc" },
  };
  const cases: { name: string; start: PrefillClientMessage["start"]; message: RegExp }[] = [
    { name: "block count", start: { ...good, numBlocks: 9 }, message: /announces 9 blocks .* needs 3/ },
    { name: "negative skip", start: { ...good, skipBlocks: -1 }, message: /skip -1/ },
    { name: "skip past the prompt", start: { ...good, skipBlocks: 4 }, message: /skip 4/ },
    {
      name: "another model",
      start: { ...good, blockHashSeed: "0123456789abcdef" },
      message: /model mismatch/,
    },
    {
      name: "logprobs -7",
      start: { ...good, request: { ...req, sampling: { ...req.sampling, hasLogprobs: true, logprobs: -7 } } },
      message: /^logprobs = -7 is out of range/,
    },
    {
      name: "token past the vocabulary",
      start: { ...good, request: { ...req, inputIds: [...ids.slice(0, 39), 10_000_000] } },
      message: /input_ids\[39\] = 10000000 is not a token id/,
    },
  ];
  for (const c of cases) {
    const m = await firstAnswer(c.start);
    assert.equal(m.msg, "error", c.name);
    assert.equal(m.error?.code, "invalid_request", c.name);
    assert.match(m.error!.message, c.message, c.name);
  }
  const idle = await waitFor(async () => {
    const l = await p.load();
    return l.runningRequests === 0 && l.queuedRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal;
  }, 5000);
  assert.ok(idle, "no job and no block left behind");
  // The worker still prefills: a valid start gets its first chunk.
  const m = await firstAnswer(good);
  assert.equal(m.msg, "chunk");
});
