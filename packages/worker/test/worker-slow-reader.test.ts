import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { GenerateResponse__Output } from "@radixserve/core";
import { generate, waitForLoad } from "./worker-grpc-client.js";
import { startTinyWorker, type TinyWorker, type WorkerProcess } from "./worker-harness.js";

// A reader that stops reading: HTTP/2 flow control (64 KiB per stream) stops the worker's sends,
// and every later token event waits in the worker's write buffer. With --max-unread-tokens 64 the
// request must be aborted with client_too_slow long before its 1,500 tokens, its KV freed while
// the reader is still paused, and a second request on the same worker must stream to its end.
const MAX_UNREAD = 64;
const MAX_NEW = 1500;
// A long id and 20 top logprobs make each token event ~0.5 KiB, so the 64 KiB flow-control window
// holds only ~150 of them and the backlog builds early in the generation.
const SLOW_ID = `slow-${"x".repeat(240)}`;

let tiny: TinyWorker;
let w: WorkerProcess;

before(async () => {
  tiny = await startTinyWorker("slow-reader", [
    "--kv-cache-blocks",
    "256",
    "--max-unread-tokens",
    String(MAX_UNREAD),
    "--threads",
    "2",
  ]);
  w = tiny.w;
});

after(async () => {
  await tiny?.stop();
});

test("worker: a stalled reader's request is aborted with client_too_slow at --max-unread-tokens; others stream on", async () => {
  const sampling = { temperature: 0, maxNewTokens: MAX_NEW, ignoreEos: true };
  const inputIds = Array.from({ length: 16 }, (_, i) => 100 + i * 7);

  const slow = w.client.Generate({
    requestId: SLOW_ID,
    inputIds,
    sampling: { ...sampling, hasLogprobs: true, logprobs: 20 },
  });
  // The reader takes the first event and then stops reading. (grpc-js pauses the HTTP/2 stream
  // only once its reader has asked for a message: a call paused before its first read would buffer
  // everything in the client instead.)
  const events: GenerateResponse__Output[] = [];
  const slowEnded = new Promise<string>((resolve) => {
    slow.on("data", (e: GenerateResponse__Output) => {
      events.push(e);
      if (events.length === 1) slow.pause();
    });
    slow.on("end", () => resolve("end"));
    slow.on("error", (err: Error) => resolve(`error: ${err.message}`));
  });

  // Another request on the same worker, read promptly, streams to its end meanwhile.
  const other = await generate(w.client, {
    requestId: "prompt-reader",
    inputIds: inputIds.map((t) => t + 1),
    sampling: { temperature: 0, maxNewTokens: 200, ignoreEos: true },
  });
  assert.equal(other.tokens.length, 200);
  assert.equal(other.last?.event, "finished");

  // Still paused: the stalled request is gone from the batch and every block is back in the pool.
  const idle = await waitForLoad(
    w.client,
    (l) => l.runningRequests === 0 && l.queuedRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal,
    20_000,
  );
  assert.equal(idle.kvBlocksFree, idle.kvBlocksTotal);

  slow.resume();
  await slowEnded;
  const tokens = events.filter((e) => e.event === "token").length;
  const last = events.at(-1);
  assert.equal(last?.event, "error", `the stalled stream ends with an error event (got ${last?.event})`);
  assert.equal(last?.error?.code, "client_too_slow");
  assert.match(last?.error?.message ?? "", /--max-unread-tokens/);
  // What got out: the flow-control window's worth plus at most MAX_UNREAD buffered events.
  assert.ok(tokens > MAX_UNREAD && tokens < 600, `unread backlog stayed bounded (${tokens} tokens sent)`);
});
