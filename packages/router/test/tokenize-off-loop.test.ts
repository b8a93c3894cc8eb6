/**
 * Tokenization runs on the tokenizer threads, not the router's event loop: while the largest
 * prompt the router accepts (--max-prompt-chars, here 200,000: the tiny model's tokenizer is
 * superlinear, ~5 s of a thread on a quiet machine) is tokenized with the real tokenizer of the
 * default model, the router's own endpoints keep answering within tens of milliseconds. Also the tokenizer pool's own contract (same ids as the tokenizer in-thread,
 * template errors as errors, queue bound).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureDefaultModel, loadTokenizer } from "@radixserve/core";
import type { FastifyInstance } from "fastify";
import { CoreTextCodec } from "../src/gateway/core-codec.js";
import { buildGateway } from "../src/gateway/server.js";
import { TokenizerPool } from "../src/tokenize/tokenizer-pool.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FAKE_MODEL, type FakeWorker, startFakeWorker } from "./fake-worker.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const KEY = "sk-loop";
const MAX_PROMPT_CHARS = 200_000;

/** Words of varied length, so the tokenizer does real merges (not one repeated token). */
function bigPrompt(chars: number): string {
  const words = ["alpha", "quantum", "river", "x", "serendipity", "42", "the", "Mountain,", "zebra-crossing"];
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i++) {
    const w = `${words[(i * 7 + (i >> 3)) % words.length]} `;
    parts.push(w);
    length += w.length;
  }
  return parts.join("").slice(0, chars);
}

describe("tokenization off the event loop", () => {
  let modelPath: string;
  let codec: CoreTextCodec;
  let worker: FakeWorker;
  let pool: WorkerPool;
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    modelPath = await ensureDefaultModel(process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"));
    codec = await CoreTextCodec.load(modelPath, { threads: 1 });
    worker = await startFakeWorker();
    pool = new WorkerPool([worker.address], { pollIntervalMs: 50 });
    await pool.start();
    await pool.waitHealthy(5000);
    ({ app } = await buildGateway({
      pool,
      codec,
      apiKey: KEY,
      limits: { maxPromptChars: MAX_PROMPT_CHARS },
    }));
    await app.listen({ host: "127.0.0.1", port: 0 });
    const addr = app.server.address();
    base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  });
  after(async () => {
    await app.close();
    pool.stop();
    await worker.close();
    await codec.close();
  });

  it("the router's endpoints answer in tens of ms while the largest allowed prompt is tokenized", async (t) => {
    const prompt = bigPrompt(MAX_PROMPT_CHARS);
    const t0 = performance.now();
    let bigDone = false;
    const big = fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: FAKE_MODEL, prompt, max_tokens: 1 }),
    }).then(async (r) => {
      bigDone = true;
      return { status: r.status, body: (await r.json()) as { error: { code: string } } };
    });
    const latencies: number[] = [];
    await new Promise((r) => setTimeout(r, 20)); // let the body reach the router
    while (!bigDone) {
      for (const [path, headers] of [
        ["/livez", {}],
        ["/v1/models", { authorization: `Bearer ${KEY}` }],
      ] as const) {
        const s = performance.now();
        const res = await fetch(`${base}${path}`, { headers });
        await res.arrayBuffer();
        assert.equal(res.status, 200, path);
        if (!bigDone) latencies.push(performance.now() - s);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const res = await big;
    const bigMs = performance.now() - t0;
    // The fake model's context is 64 tokens: the prompt is refused after it was tokenized.
    assert.equal(res.status, 400);
    assert.ok(["prompt_too_long", "invalid_request"].includes(res.body.error.code), JSON.stringify(res.body));
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    const what =
      `${latencies.length} probes during a ${bigMs.toFixed(0)} ms request: p50 ${at(0.5).toFixed(1)} ms, ` +
      `p95 ${at(0.95).toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`;
    t.diagnostic(what);
    assert.ok(latencies.length >= 20, what);
    // Tens of milliseconds (on a shared 2-core machine; the tokenizer thread holds one core).
    assert.ok(at(0.5) < 20 && at(0.95) < 100, what);
  });

  it("the pool gives the ids of the tokenizer itself, and template errors as errors", async () => {
    const tokenizer = await loadTokenizer(modelPath);
    const text = "Hello, world! A test of the pool.";
    assert.deepEqual(await codec.encodePrompt(text), tokenizer.encode(text, { addSpecialTokens: true }));
    const ids = await codec.encodeChat([{ role: "user", content: "hi" }]);
    assert.ok(ids.length > 2);
    await assert.rejects(
      codec.encodeChat([
        { role: "assistant", content: "x" },
        { role: "tool" as "user", content: 5 as unknown as string },
      ]),
    );
  });

  it("a full queue refuses at once with queue_full", async () => {
    const small = await TokenizerPool.start(modelPath, { threads: 1, maxQueued: 1 });
    try {
      const long = bigPrompt(100_000);
      const first = small.encodePrompt(long); // taken by the thread
      const second = small.encodePrompt(long); // waits
      await assert.rejects(
        small.encodePrompt("x"),
        (err: Error & { code?: string }) => err.code === "queue_full",
      );
      assert.ok((await first).length > 1000);
      assert.ok((await second).length > 1000);
    } finally {
      await small.close();
    }
  });
});
