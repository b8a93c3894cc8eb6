/**
 * SGLang's native API over a fake worker: every route is behind the API key; /generate answers
 * SGLang's shapes for one prompt, a batch and a stream; unknown fields, structured-output params
 * and mismatched per-item lists are refused by name.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildGateway } from "../src/gateway/server.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { type FakeWorker, startFakeWorker } from "./fake-worker.js";

const KEY = "sk-native-test";
const auth = { authorization: `Bearer ${KEY}` };

describe("native API (/generate, /get_model_info, /get_server_info, /flush_cache)", () => {
  let worker: FakeWorker;
  let pool: WorkerPool;
  let app: FastifyInstance;
  before(async () => {
    worker = await startFakeWorker();
    pool = new WorkerPool([worker.address], { pollIntervalMs: 50 });
    await pool.start();
    await pool.waitHealthy(5000);
    ({ app } = await buildGateway({ pool, codec: new FakeCodec(), apiKey: KEY }));
  });
  after(async () => {
    await app.close();
    pool.stop();
    await worker.close();
  });

  const post = (url: string, body: unknown, headers: Record<string, string> = auth) =>
    app.inject({ method: "POST", url, payload: body as object, headers });

  it("needs the API key on every route", async () => {
    for (const [method, url] of [
      ["POST", "/generate"],
      ["GET", "/get_model_info"],
      ["GET", "/get_server_info"],
      ["POST", "/flush_cache"],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        ...(method === "POST" ? { payload: { text: "hi" } } : {}),
      });
      assert.equal(res.statusCode, 401, `${method} ${url}`);
    }
  });

  it("answers one prompt and a batch in SGLang's shape", async () => {
    const one = await post("/generate", {
      text: "hi",
      sampling_params: { max_new_tokens: 3, temperature: 0 },
    });
    assert.equal(one.statusCode, 200, one.body);
    const b = one.json() as { text: string; output_ids: number[]; meta_info: Record<string, unknown> };
    assert.equal(b.output_ids.length, 3);
    assert.equal(typeof b.text, "string");
    assert.deepEqual(b.meta_info.finish_reason, { type: "length" });
    assert.equal(b.meta_info.completion_tokens, 3);
    const batch = await post("/generate", {
      text: ["a", "b"],
      rid: ["r1", "r2"],
      sampling_params: [{ max_new_tokens: 1 }, { max_new_tokens: 2 }],
    });
    assert.equal(batch.statusCode, 200, batch.body);
    const items = batch.json() as { output_ids: number[]; meta_info: { id: string } }[];
    assert.deepEqual(
      items.map((i) => [i.meta_info.id, i.output_ids.length]),
      [
        ["r1", 1],
        ["r2", 2],
      ],
    );
  });

  it("streams cumulative chunks and ends with [DONE]", async () => {
    const res = await post("/generate", { text: "hi", stream: true, sampling_params: { max_new_tokens: 3 } });
    assert.equal(res.statusCode, 200);
    const events = res.body.split("\n\n").filter(Boolean);
    assert.equal(events.at(-1), "data: [DONE]");
    const chunks = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice(6)) as { output_ids: number[]; meta_info: { finish_reason: unknown } });
    assert.deepEqual(chunks.at(-1)!.meta_info.finish_reason, { type: "length" });
    assert.equal(chunks.at(-1)!.output_ids.length, 3);
  });

  it("refuses what it does not implement, by name", async () => {
    const cases: [unknown, RegExp, string | null][] = [
      [{ text: "hi", image_data: "x" }, /image_data/, null],
      [{ text: "hi", sampling_params: { regex: "a+" } }, /regex/, "sampling_params.regex"],
      [{ text: "hi", sampling_params: { json_schema: "{}" } }, /json_schema/, "sampling_params.json_schema"],
      [{ text: "hi", sampling_params: { n: 2 } }, /./, "sampling_params.n"],
      [{ text: ["a", "b"], rid: ["x"] }, /'rid' has 1 entries for a batch of 2/, "rid"],
      [{ text: "hi", input_ids: [1] }, /exactly one of 'text' and 'input_ids'/, "text"],
      [{ text: "hi", return_logprob: true, logprob_start_len: 99 }, /past the prompt/, "logprob_start_len"],
    ];
    for (const [body, message, param] of cases) {
      const res = await post("/generate", body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      const e = (res.json() as { error: { message: string; param: string | null } }).error;
      assert.match(e.message, message, JSON.stringify(body));
      if (param) assert.equal(e.param, param, JSON.stringify(body));
    }
  });

  it("applies the router's prompt limits", async () => {
    const limited = (await buildGateway({ pool, codec: new FakeCodec(), limits: { maxPromptChars: 10 } }))
      .app;
    try {
      const res = await limited.inject({
        method: "POST",
        url: "/generate",
        payload: { text: "x".repeat(11) },
      });
      assert.equal(res.statusCode, 400);
      const e = (res.json() as { error: { message: string; param: string } }).error;
      assert.equal(e.param, "text");
      assert.match(e.message, /11 characters/);
    } finally {
      await limited.close();
    }
  });

  it("reports the model and the workers", async () => {
    const info = await app.inject({ method: "GET", url: "/get_model_info", headers: auth });
    assert.equal(info.statusCode, 200);
    assert.equal((info.json() as { is_generation: boolean }).is_generation, true);
    const server = await app.inject({ method: "GET", url: "/get_server_info", headers: auth });
    const s = server.json() as { workers: { healthy: boolean }[] };
    assert.equal(s.workers.length, 1);
    assert.equal(s.workers[0]!.healthy, true);
  });
});
