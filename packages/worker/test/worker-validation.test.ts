/**
 * Requests are validated before they join a batch: bad values sent straight over gRPC (no router in
 * front) end with INVALID_ARGUMENT naming the field, while the requests running beside them finish
 * with exactly the tokens they produce alone.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { type GenerateRequest, makeModel } from "@radixserve/core";
import { generate, waitForLoad } from "./worker-grpc-client.js";
import { startWorkerProcess, type WorkerProcess } from "./worker-harness.js";

let dir: string;
let w: WorkerProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "radixserve-validation-"));
  const modelPath = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
  w = await startWorkerProcess([
    "--model-path",
    modelPath,
    "--kv-cache-blocks",
    "256",
    "--max-running-requests",
    "16",
    "--threads",
    "2",
  ]);
});

after(async () => {
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const good = (i: number): GenerateRequest => ({
  requestId: `good-${i}`,
  inputIds: Array.from({ length: 12 + i }, (_, j) => 100 + ((i * 131 + j * 17) % 3000)),
  sampling: { temperature: 0, maxNewTokens: 40, ignoreEos: true },
});

/** Each bad request: the sampling (or prompt) it carries and the field the error must name. */
const BAD: { name: string; req: Partial<GenerateRequest>; param: string }[] = [
  {
    name: "logprobs -7",
    req: { sampling: { maxNewTokens: 4, hasLogprobs: true, logprobs: -7 } },
    param: "logprobs",
  },
  {
    name: "logprobs 21",
    req: { sampling: { maxNewTokens: 4, hasLogprobs: true, logprobs: 21 } },
    param: "logprobs",
  },
  {
    name: "temperature inf",
    req: { sampling: { maxNewTokens: 4, temperature: Infinity } },
    param: "temperature",
  },
  {
    name: "temperature nan",
    req: { sampling: { maxNewTokens: 4, temperature: Number.NaN } },
    param: "temperature",
  },
  { name: "top_p 2", req: { sampling: { maxNewTokens: 4, topP: 2 } }, param: "top_p" },
  { name: "min_p -1", req: { sampling: { maxNewTokens: 4, minP: -1 } }, param: "min_p" },
  {
    name: "repetition_penalty inf",
    req: { sampling: { maxNewTokens: 4, repetitionPenalty: Infinity } },
    param: "repetition_penalty",
  },
  {
    name: "presence_penalty 3",
    req: { sampling: { maxNewTokens: 4, presencePenalty: 3 } },
    param: "presence_penalty",
  },
  { name: "max_new_tokens -1", req: { sampling: { maxNewTokens: -1 } }, param: "max_new_tokens" },
  { name: "token past the vocab", req: { inputIds: [1, 2, 32000] }, param: "input_ids" },
  { name: "negative token", req: { inputIds: [1, -5] }, param: "input_ids" },
  {
    name: "stop id past the vocab",
    req: { sampling: { maxNewTokens: 4, stopTokenIds: [40000] } },
    param: "stop_token_ids",
  },
  { name: "context overflow", req: { sampling: { maxNewTokens: 5000 } }, param: "max_new_tokens" },
  { name: "request_id too long", req: { requestId: "x".repeat(300) }, param: "request_id" },
];

test("worker validation: bad values over gRPC end with INVALID_ARGUMENT naming the field; 8 requests beside them finish unharmed", async () => {
  // Reference: each good request alone.
  const alone: number[][] = [];
  for (let i = 0; i < 8; i++) {
    const r = await generate(w.client, { ...good(i), requestId: `alone-${i}` });
    assert.equal(r.last?.finished?.reason, "FINISH_REASON_LENGTH");
    alone.push(r.tokens);
  }

  let started = 0;
  let onStarted: () => void = () => {};
  const allStarted = new Promise<void>((resolve) => {
    onStarted = resolve;
  });
  const running = Array.from({ length: 8 }, (_, i) =>
    generate(w.client, good(i), (n) => {
      if (n === 1 && ++started === 8) onStarted();
      return false;
    }),
  );
  await allStarted; // all 8 are in the batch, decoding
  const refused = await Promise.all(
    BAD.map((b, i) =>
      generate(w.client, {
        requestId: `bad-${i}`,
        inputIds: [1, 2, 3],
        sampling: { maxNewTokens: 4 },
        ...b.req,
      } as GenerateRequest),
    ),
  );
  for (const [i, r] of refused.entries()) {
    const b = BAD[i]!;
    assert.equal(r.tokens.length, 0, b.name);
    assert.equal(r.last?.event, "error", b.name);
    assert.equal(r.last?.error?.httpStatus, 400, b.name);
    assert.ok(["invalid_request", "prompt_too_long"].includes(r.last!.error!.code), b.name);
    assert.equal(r.status?.code, GrpcStatus.INVALID_ARGUMENT, b.name);
    assert.ok(r.status!.details.startsWith(`${b.param}: `), `${b.name}: ${r.status!.details}`);
  }
  const results = await Promise.all(running);
  for (const [i, r] of results.entries()) {
    assert.equal(r.last?.finished?.reason, "FINISH_REASON_LENGTH", `good-${i}`);
    assert.deepEqual(r.tokens, alone[i], `good-${i} produced the tokens it produces alone`);
  }
  await waitForLoad(w.client, (l) => l.runningRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal);
});
