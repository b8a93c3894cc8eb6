/**
 * Gateway behaviour against a fake worker over real gRPC (fastify inject for HTTP): request
 * validation and error bodies, chat/completions shapes, streaming, stop strings, n, seeds,
 * logprobs, disconnects, load accounting.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildGateway } from "../src/gateway/server.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { FAKE_CONTEXT, FAKE_MODEL, type FakeWorker, SCRIPT, startFakeWorker } from "./fake-worker.js";

const KEY = "sk-test";
const auth = { authorization: `Bearer ${KEY}` };

interface Setup {
  worker: FakeWorker;
  pool: WorkerPool;
  app: FastifyInstance;
}

async function setup(
  opts: { maxPendingRequests?: number; maxRequestBytes?: number; requestTimeoutMs?: number } = {},
): Promise<Setup> {
  const worker = await startFakeWorker();
  const pool = new WorkerPool([worker.address], {
    pollIntervalMs: 50,
    maxPendingRequests: opts.maxPendingRequests,
  });
  await pool.start();
  await pool.waitHealthy(5000);
  const { app } = await buildGateway({
    pool,
    codec: new FakeCodec(),
    apiKey: KEY,
    maxRequestBytes: opts.maxRequestBytes ?? 4096,
    requestTimeoutMs: opts.requestTimeoutMs,
    openapi: { openapi: "3.1.0" },
  });
  return { worker, pool, app };
}

async function teardown(s: Setup) {
  await s.app.close();
  s.pool.stop();
  await s.worker.close();
}

function post(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = auth) {
  return app.inject({
    method: "POST",
    url,
    headers: { "content-type": "application/json", ...headers },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function sseEvents(payload: string): unknown[] {
  const out: unknown[] = [];
  for (const block of payload.split("\n\n")) {
    if (!block.startsWith("data: ")) continue;
    const data = block.slice("data: ".length);
    out.push(data === "[DONE]" ? "[DONE]" : JSON.parse(data));
  }
  return out;
}

const chat = (extra: Record<string, unknown> = {}) => ({
  model: FAKE_MODEL,
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 5,
  temperature: 0,
  ...extra,
});

function inFlight(pool: WorkerPool): number {
  return pool.snapshot().reduce((a, w) => a + w.inFlight, 0);
}

describe("gateway: responses", () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => teardown(s));
  beforeEach(() => {
    s.worker.requests.length = 0;
  });

  it("chat completion returns the generated text, usage and finish_reason length", async () => {
    const res = await post(s.app, "/v1/chat/completions", chat());
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.object, "chat.completion");
    assert.match(body.id, /^chatcmpl-/);
    assert.equal(body.model, FAKE_MODEL);
    assert.deepEqual(body.choices[0].message, { role: "assistant", content: SCRIPT.slice(0, 5) });
    assert.equal(body.choices[0].finish_reason, "length");
    const promptLen = "user: hi\nassistant: ".length;
    assert.deepEqual(body.usage, {
      prompt_tokens: promptLen,
      completion_tokens: 5,
      total_tokens: promptLen + 5,
      prompt_tokens_details: { cached_tokens: 3 },
    });
    const req = s.worker.requests[0]!;
    assert.equal(req.sampling!.maxNewTokens, 5);
    assert.equal(req.sampling!.temperature, 0);
    assert.equal(inFlight(s.pool), 0);
  });

  it("text-part content and system messages go through the template", async () => {
    const res = await post(
      s.app,
      "/v1/chat/completions",
      chat({
        messages: [
          { role: "system", content: "be brief" },
          {
            role: "user",
            content: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
          },
        ],
      }),
    );
    assert.equal(res.statusCode, 200, res.body);
    const ids = s.worker.requests[0]!.inputIds;
    assert.equal(Buffer.from(ids).toString(), "system: be brief\nuser: a\nb\nassistant: ");
  });

  it("completion with a string prompt defaults to 16 tokens and ends at EOS with stop", async () => {
    const res = await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: "x", max_tokens: 60 });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.object, "text_completion");
    assert.equal(body.choices[0].text, SCRIPT, "EOS is not rendered");
    assert.equal(body.choices[0].finish_reason, "stop");
    const res16 = await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: "x" });
    assert.equal(res16.json().choices[0].text, SCRIPT.slice(0, 16));
  });

  it("completion prompt forms: token ids, list of strings, list of id lists", async () => {
    const ids = await post(s.app, "/v1/completions", {
      model: FAKE_MODEL,
      prompt: [104, 105],
      max_tokens: 2,
    });
    assert.equal(ids.statusCode, 200, ids.body);
    assert.deepEqual(s.worker.requests.at(-1)!.inputIds, [104, 105]);
    const many = await post(s.app, "/v1/completions", {
      model: FAKE_MODEL,
      prompt: ["a", "bb"],
      max_tokens: 2,
      n: 2,
    });
    const body = many.json();
    assert.equal(body.choices.length, 4);
    assert.deepEqual(
      body.choices.map((c: { index: number }) => c.index),
      [0, 1, 2, 3],
    );
    assert.equal(body.usage.prompt_tokens, 3, "each prompt counted once");
    assert.equal(body.usage.completion_tokens, 8);
    const lists = await post(s.app, "/v1/completions", {
      model: FAKE_MODEL,
      prompt: [[1], [2, 3]],
      max_tokens: 1,
    });
    assert.equal(lists.json().choices.length, 2);
  });

  it("stop strings cut the text before the match and abort the worker request", async () => {
    const res = await post(s.app, "/v1/chat/completions", chat({ max_tokens: 20, stop: ["world", "zzz"] }));
    const body = res.json();
    assert.equal(body.choices[0].message.content, "Hello ");
    assert.equal(body.choices[0].finish_reason, "stop");
    assert.equal(s.worker.aborted.length > 0, true);
    assert.equal(body.usage.completion_tokens, "Hello world".length);
  });

  it("stop_token_ids are passed to the worker and not rendered", async () => {
    const res = await post(s.app, "/v1/chat/completions", chat({ max_tokens: 20, stop_token_ids: [33] }));
    const body = res.json();
    assert.deepEqual(s.worker.requests[0]!.sampling!.stopTokenIds, [33]);
    assert.equal(body.choices[0].message.content, "Hello world");
    assert.equal(body.choices[0].finish_reason, "stop");
  });

  it("n=2 with a seed sends two requests with seed and seed+1", async () => {
    const res = await post(
      s.app,
      "/v1/chat/completions",
      chat({ n: 2, seed: 7, temperature: 0.8, top_k: 5 }),
    );
    const body = res.json();
    assert.equal(body.choices.length, 2);
    const seeds = s.worker.requests.map((r) => r.sampling!.seed).sort();
    assert.deepEqual(seeds, ["7", "8"]);
    assert.equal(s.worker.requests[0]!.sampling!.topK, 5);
    assert.equal(Math.abs(s.worker.requests[0]!.sampling!.temperature - 0.8) < 1e-6, true);
  });

  it("chat logprobs with top_logprobs have OpenAI's shape", async () => {
    const res = await post(
      s.app,
      "/v1/chat/completions",
      chat({ max_tokens: 2, logprobs: true, top_logprobs: 2 }),
    );
    const lp = res.json().choices[0].logprobs;
    assert.equal(lp.content.length, 2);
    assert.deepEqual(lp.content[0], {
      token: "H",
      logprob: -0.5,
      bytes: [72],
      top_logprobs: [
        { token: "A", logprob: -1, bytes: [65] },
        { token: "B", logprob: -2, bytes: [66] },
      ],
    });
    assert.equal(s.worker.requests[0]!.sampling!.hasLogprobs, true);
    assert.equal(s.worker.requests[0]!.sampling!.logprobs, 2);
  });

  it("completion logprobs are parallel arrays with text offsets", async () => {
    const res = await post(s.app, "/v1/completions", {
      model: FAKE_MODEL,
      prompt: "x",
      max_tokens: 3,
      logprobs: 1,
    });
    const lp = res.json().choices[0].logprobs;
    assert.deepEqual(lp.tokens, ["H", "e", "l"]);
    assert.deepEqual(lp.token_logprobs, [-0.5, -0.5, -0.5]);
    assert.deepEqual(lp.top_logprobs[0], { A: -1 });
    assert.deepEqual(lp.text_offset, [0, 1, 2]);
  });

  it("streams chat as OpenAI does: role first, deltas, finish chunk, usage chunk, [DONE]", async () => {
    const res = await post(
      s.app,
      "/v1/chat/completions",
      chat({ stream: true, max_tokens: 8, stream_options: { include_usage: true } }),
    );
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers["content-type"]), /text\/event-stream/);
    const events = sseEvents(res.body) as (Record<string, unknown> | string)[];
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1) as {
      choices: { delta: Record<string, unknown>; finish_reason: unknown }[];
      usage: unknown;
      object: string;
    }[];
    assert.equal(chunks[0]!.object, "chat.completion.chunk");
    assert.deepEqual(chunks[0]!.choices[0]!.delta, { role: "assistant", content: "" });
    const text = chunks.map((c) => (c.choices[0]?.delta["content"] as string | undefined) ?? "").join("");
    assert.equal(text, SCRIPT.slice(0, 8));
    const finish = chunks.at(-2)!;
    assert.equal(finish.choices[0]!.finish_reason, "length");
    assert.equal(finish.usage, null);
    const usage = chunks.at(-1)!;
    assert.deepEqual(usage.choices, []);
    assert.equal((usage.usage as { completion_tokens: number }).completion_tokens, 8);
  });

  it("streams completions with text chunks and no usage chunk unless asked", async () => {
    const res = await post(s.app, "/v1/completions", {
      model: FAKE_MODEL,
      prompt: "x",
      max_tokens: 4,
      stream: true,
    });
    const events = sseEvents(res.body) as (
      | { choices: { text: string; finish_reason: unknown }[]; usage?: unknown }
      | string
    )[];
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1) as {
      choices: { text: string; finish_reason: unknown }[];
      usage?: unknown;
    }[];
    assert.equal(chunks.map((c) => c.choices[0]!.text).join(""), SCRIPT.slice(0, 4));
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "length");
    assert.equal(
      chunks.every((c) => !("usage" in c)),
      true,
    );
  });

  it("counts a streamed request once in the HTTP metrics", async () => {
    const count = async () => {
      const text = (await s.app.inject({ method: "GET", url: "/metrics" })).body;
      const m =
        /radixserve_http_requests_total\{endpoint="\/v1\/completions",status="200",status_class="2xx",error_code="none",role="router",model_name="[^"]+"\} (\d+)/.exec(
          text,
        );
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: "x", max_tokens: 2, stream: true });
    await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: "x", max_tokens: 2 });
    assert.equal((await count()) - before, 2);
  });

  it("lists models, answers health, metrics and the OpenAPI document", async () => {
    const models = await s.app.inject({ method: "GET", url: "/v1/models", headers: auth });
    assert.equal(models.json().data[0].id, FAKE_MODEL);
    assert.equal(models.json().data[0].max_model_len, FAKE_CONTEXT);
    const health = await s.app.inject({ method: "GET", url: "/health" });
    assert.equal(health.statusCode, 200);
    const hg = await s.app.inject({ method: "GET", url: "/health_generate", headers: auth });
    assert.equal(hg.statusCode, 200, hg.body);
    assert.equal(hg.json().generated_tokens, 1);
    const metrics = await s.app.inject({ method: "GET", url: "/metrics" });
    assert.match(
      metrics.body,
      /radixserve_time_to_first_token_seconds_count\{role="router",model_name="[^"]+"\} [1-9]/,
    );
    assert.match(metrics.body, /radixserve_router_workers_healthy\{role="router",model_name="[^"]+"\} 1/);
    const oa = await s.app.inject({ method: "GET", url: "/openapi.json", headers: auth });
    assert.equal(oa.json().openapi, "3.1.0");
  });
});

describe("gateway: errors", () => {
  let s: Setup;
  before(async () => {
    s = await setup({ maxRequestBytes: 2048 });
  });
  after(async () => teardown(s));

  async function expectError(
    res: { statusCode: number; json(): unknown; headers: Record<string, unknown> },
    status: number,
    code: string,
    param: string | null,
    message?: RegExp,
  ) {
    assert.equal(res.statusCode, status);
    const body = res.json() as {
      error: { message: string; type: string; param: unknown; code: string; request_id: string };
    };
    assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "request_id", "type"]);
    assert.match(body.error.request_id, /^req-[0-9a-f]{24}$/);
    assert.equal(res.headers["x-request-id"], body.error.request_id, "the header names the same request");
    assert.equal(body.error.code, code);
    assert.equal(body.error.param, param);
    if (message) assert.match(body.error.message, message);
    assert.equal(inFlight(s.pool), 0);
  }

  it("malformed JSON is 400 invalid_json", async () => {
    await expectError(await post(s.app, "/v1/chat/completions", "{not json"), 400, "invalid_json", null);
    await expectError(await post(s.app, "/v1/chat/completions", "[1,2]"), 400, "invalid_json", null);
  });

  it("wrong types and out-of-range values name the parameter", async () => {
    await expectError(
      await post(s.app, "/v1/chat/completions", chat({ temperature: "hot" })),
      400,
      "invalid_request",
      "temperature",
    );
    await expectError(
      await post(s.app, "/v1/chat/completions", chat({ max_tokens: -1 })),
      400,
      "invalid_request",
      "max_tokens",
    );
    await expectError(
      await post(s.app, "/v1/chat/completions", chat({ messages: [{ role: "user", content: 5 }] })),
      400,
      "invalid_request",
      "messages[0].content",
    );
    await expectError(
      await post(s.app, "/v1/chat/completions", { model: FAKE_MODEL }),
      400,
      "invalid_request",
      "messages",
    );
    await expectError(
      await post(s.app, "/v1/chat/completions", chat({ top_logprobs: 2 })),
      400,
      "invalid_request",
      "top_logprobs",
    );
    await expectError(
      await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: [999] }),
      400,
      "invalid_request",
      "prompt",
      /999/,
    );
  });

  it("an unknown model is 404 model_not_found", async () => {
    await expectError(
      await post(s.app, "/v1/chat/completions", chat({ model: "gpt-9" })),
      404,
      "model_not_found",
      "model",
      /gpt-9/,
    );
  });

  it("a prompt longer than the context is 400 with both numbers", async () => {
    const long = "y".repeat(FAKE_CONTEXT + 10);
    await expectError(
      await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: long }),
      400,
      "prompt_too_long",
      "prompt",
      new RegExp(`${FAKE_CONTEXT} tokens.*${FAKE_CONTEXT + 10} tokens`),
    );
    await expectError(
      await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: "abc", max_tokens: FAKE_CONTEXT }),
      400,
      "prompt_too_long",
      "prompt",
      /3 in the prompt/,
    );
  });

  it("a missing or wrong API key is 401 on /v1 only", async () => {
    await expectError(await post(s.app, "/v1/chat/completions", chat(), {}), 401, "unauthorized", null);
    await expectError(
      await post(s.app, "/v1/chat/completions", chat(), { authorization: "Bearer nope" }),
      401,
      "unauthorized",
      null,
    );
    assert.equal((await s.app.inject({ method: "GET", url: "/health" })).statusCode, 200);
  });

  it("a body over the limit is 413", async () => {
    await expectError(
      await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: "z".repeat(5000) }),
      413,
      "payload_too_large",
      null,
    );
  });

  it("unknown routes are 404 in the same body with the key, 401 without", async () => {
    const res = await s.app.inject({ method: "GET", url: "/v2/nothing", headers: auth });
    await expectError(res, 404, "route_not_found", null);
    await expectError(await s.app.inject({ method: "GET", url: "/v2/nothing" }), 401, "unauthorized", null);
  });

  it("a worker error keeps its code and status, before and during streams", async () => {
    s.worker.failWith = { code: "queue_full", message: "worker queue is full", httpStatus: 429 };
    try {
      await expectError(
        await post(s.app, "/v1/chat/completions", chat()),
        429,
        "queue_full",
        null,
        /at capacity; retry later/,
      );
      await expectError(
        await post(s.app, "/v1/chat/completions", chat({ stream: true })),
        429,
        "queue_full",
        null,
      );
    } finally {
      s.worker.failWith = null;
    }
    const ok = await post(s.app, "/v1/chat/completions", chat());
    assert.equal(ok.statusCode, 200, "still serving after errors");
  });
});

describe("gateway: load and availability", () => {
  it("429 when the router's pending limit is reached, and counters return to zero", async () => {
    const s = await setup({ maxPendingRequests: 1 });
    try {
      s.worker.tokenDelayMs = 20;
      const slow = post(s.app, "/v1/chat/completions", chat({ max_tokens: 10 }));
      await new Promise((r) => setTimeout(r, 30));
      const res = await post(s.app, "/v1/chat/completions", chat());
      assert.equal(res.statusCode, 429);
      assert.equal(res.json().error.code, "queue_full");
      assert.equal(res.headers["retry-after"], "1");
      assert.equal((await slow).statusCode, 200);
      assert.equal(inFlight(s.pool), 0);
    } finally {
      await teardown(s);
    }
  });

  it("a request past its deadline ends with finish_reason abort even if the worker ignores it", async () => {
    const s = await setup({ requestTimeoutMs: 100 });
    try {
      s.worker.tokenDelayMs = 100; // the script would take 3 s: longer than deadline + grace
      const t0 = Date.now();
      const res = await post(s.app, "/v1/completions", { model: FAKE_MODEL, prompt: "x", max_tokens: 60 });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().choices[0].finish_reason, "abort");
      const deadline = Number(s.worker.requests[0]!.deadlineUnixMs);
      assert.ok(deadline >= t0 + 100 && deadline < t0 + 1000, `deadline ${deadline - t0} ms after start`);
      const until = Date.now() + 3000;
      while (s.worker.cancelled.length === 0 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(s.worker.cancelled.length, 1, "the router cancelled the call");
      assert.equal(inFlight(s.pool), 0);
    } finally {
      await teardown(s);
    }
  });

  it("503 no_worker when no worker is healthy", async () => {
    const s = await setup();
    try {
      await s.worker.close();
      const until = Date.now() + 5000;
      while (s.pool.healthyCount() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const res = await post(s.app, "/v1/chat/completions", chat());
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().error.code, "no_worker");
      assert.equal(res.headers["retry-after"], "5");
      assert.doesNotMatch(res.body, /127\.0\.0\.1|:\d{2,5}\b/, "no worker address reaches the client");
      const ready = await s.app.inject({ method: "GET", url: "/readyz" });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.headers["retry-after"], "5");
      assert.equal((await s.app.inject({ method: "GET", url: "/health" })).statusCode, 503);
      assert.equal((await s.app.inject({ method: "GET", url: "/livez" })).statusCode, 200);
    } finally {
      await s.app.close();
      s.pool.stop();
    }
  });

  it("a worker dying mid-stream ends the stream with an error event and [DONE]", async () => {
    const s = await setup();
    try {
      s.worker.tokenDelayMs = 20;
      const pending = post(s.app, "/v1/chat/completions", chat({ stream: true, max_tokens: 25 }));
      const until = Date.now() + 3000;
      while (s.worker.running.size === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      s.worker.kill();
      const res = await pending;
      assert.equal(res.statusCode, 200, "headers were already sent");
      const events = sseEvents(res.body);
      assert.equal(events.at(-1), "[DONE]");
      const err = events.at(-2) as { error: { code: string; type: string } };
      assert.equal(err.error.code, "no_worker", JSON.stringify(err));
      assert.equal(err.error.type, "server_error");
      assert.equal(inFlight(s.pool), 0);
    } finally {
      await s.app.close();
      s.pool.stop();
    }
  });

  it("a client disconnecting mid-stream cancels the worker request", async () => {
    const s = await setup();
    try {
      s.worker.tokenDelayMs = 20;
      await s.app.listen({ host: "127.0.0.1", port: 0 });
      const addr = s.app.server.address() as { port: number };
      const ac = new AbortController();
      const res = await fetch(`http://127.0.0.1:${addr.port}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify(chat({ stream: true, max_tokens: 40 })),
        signal: ac.signal,
      });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      const until = Date.now() + 3000;
      while (s.worker.cancelled.length === 0 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(s.worker.cancelled.length, 1);
      assert.equal(s.worker.running.size, 0);
      assert.equal(inFlight(s.pool), 0);
    } finally {
      await teardown(s);
    }
  });
});
