/**
 * Per-request limits (prompt characters, prompt tokens, prompts x n) are clear 400s that name the
 * parameter and the limit, and nothing reaches a worker; text is UTF-8 on purpose: a body whose
 * bytes are not UTF-8 is refused, a lone surrogate escape becomes U+FFFD before tokenizing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildGateway } from "../src/gateway/server.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { FAKE_MODEL, type FakeWorker, startFakeWorker } from "./fake-worker.js";

describe("gateway: request limits and text encoding", () => {
  let worker: FakeWorker;
  let pool: WorkerPool;
  let app: FastifyInstance;

  before(async () => {
    worker = await startFakeWorker();
    pool = new WorkerPool([worker.address], { pollIntervalMs: 50 });
    await pool.start();
    await pool.waitHealthy(5000);
    ({ app } = await buildGateway({
      pool,
      codec: new FakeCodec(),
      limits: { maxPromptChars: 40, maxPromptTokens: 30, maxChoices: 4 },
    }));
  });
  after(async () => {
    await app.close();
    pool.stop();
    await worker.close();
  });

  const post = (url: string, body: unknown) =>
    app.inject({
      method: "POST",
      url,
      headers: { "content-type": "application/json" },
      payload: Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });

  async function expect400(url: string, body: unknown, param: string | null, message: RegExp) {
    const before = worker.requests.length;
    const res = await post(url, body);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.param, param);
    assert.match(res.json().error.message, message);
    assert.equal(worker.requests.length, before, "nothing reached a worker");
  }

  it("prompts x n over --max-choices-per-request is 400 naming both numbers", async () => {
    await expect400(
      "/v1/completions",
      { model: FAKE_MODEL, prompt: ["a", "b", "c"], n: 2, max_tokens: 1 },
      "prompt",
      /6 choices \(3 prompt\(s\) x n=2\).*at most 4/,
    );
    await expect400(
      "/v1/completions",
      { model: FAKE_MODEL, prompt: [[1], [2], [3], [4], [5]], max_tokens: 1 },
      "prompt",
      /5 choices/,
    );
    await expect400(
      "/v1/chat/completions",
      { model: FAKE_MODEL, messages: [{ role: "user", content: "a" }], n: 5, max_tokens: 1 },
      "n",
      /at most 4/,
    );
    const ok = await post("/v1/completions", { model: FAKE_MODEL, prompt: ["a", "b"], n: 2, max_tokens: 1 });
    assert.equal(ok.statusCode, 200, "exactly at the limit is served");
  });

  it("characters over --max-prompt-chars are refused before tokenizing", async () => {
    await expect400(
      "/v1/completions",
      { model: FAKE_MODEL, prompt: ["x".repeat(21), "y".repeat(20)], max_tokens: 1 },
      "prompt",
      /41 characters.*at most 40/,
    );
    await expect400(
      "/v1/chat/completions",
      {
        model: FAKE_MODEL,
        messages: [
          { role: "system", content: "s".repeat(30) },
          { role: "user", content: [{ type: "text", text: "u".repeat(11) }] },
        ],
        max_tokens: 1,
      },
      "messages",
      /41 characters/,
    );
  });

  it("tokens over --max-prompt-tokens are refused (token-id prompts too)", async () => {
    await expect400(
      "/v1/completions",
      { model: FAKE_MODEL, prompt: [Array(16).fill(65), Array(15).fill(66)], max_tokens: 1 },
      "prompt",
      /31 tokens.*at most 30/,
    );
    // The chat template adds "user: ...\nassistant: " (18 bytes) around 13 characters.
    await expect400(
      "/v1/chat/completions",
      { model: FAKE_MODEL, messages: [{ role: "user", content: "z".repeat(13) }], max_tokens: 1 },
      "messages",
      /31 tokens/,
    );
  });

  it("a body that is not UTF-8 is 400; a lone surrogate becomes U+FFFD on purpose", async () => {
    const bad = Buffer.concat([
      Buffer.from('{"model":"fake-model","prompt":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const res = await post("/v1/completions", bad);
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, "invalid_json");
    assert.match(res.json().error.message, /UTF-8/);

    const before = worker.requests.length;
    const lone = await post(
      "/v1/completions",
      Buffer.from('{"model":"fake-model","prompt":"a\\ud800b","max_tokens":1,"stop":["\\udfff"]}'),
    );
    assert.equal(lone.statusCode, 200, lone.body);
    const sent = worker.requests[before]!;
    // The fake codec's ids are UTF-8 bytes: a, U+FFFD (EF BF BD), b.
    assert.deepEqual([...sent.inputIds], [0x61, 0xef, 0xbf, 0xbd, 0x62]);
  });
});
