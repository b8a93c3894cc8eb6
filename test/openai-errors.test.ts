/**
 * Bad input against a real cluster: every failure has the exact status and OpenAI error body
 * ({"error":{"message","type","param","code"}}), and the cluster keeps serving afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Cluster, startCluster } from "./harness/cluster.js";

const KEY = "sk-errors";
const LIMIT = 64 * 1024;

describe("serving: bad input gets exact errors and the cluster keeps serving", () => {
  let cluster: Cluster;
  let model: string;

  before(async () => {
    cluster = await startCluster({ apiKey: KEY, routerArgs: ["--max-request-bytes", String(LIMIT)] });
    model = cluster.modelId;
  });
  after(async () => {
    await cluster?.stop();
  });

  async function call(path: string, body: string | object, headers: Record<string, string> = {}) {
    const res = await fetch(`${cluster.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as { error: Record<string, unknown> } };
  }

  function expectError(
    r: { status: number; body: { error: Record<string, unknown> } },
    status: number,
    code: string,
    type: string,
    param: string | null,
  ) {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body.error).sort(), ["code", "message", "param", "request_id", "type"]);
    assert.equal(r.body.error["code"], code);
    assert.equal(r.body.error["type"], type);
    assert.equal(r.body.error["param"], param);
    assert.equal(typeof r.body.error["message"], "string");
    return r.body.error["message"] as string;
  }

  const chat = (extra: object = {}) => ({
    model,
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 2,
    temperature: 0,
    ...extra,
  });

  it("malformed JSON: 400 invalid_json", async () => {
    expectError(
      await call("/chat/completions", '{"model": '),
      400,
      "invalid_json",
      "invalid_request_error",
      null,
    );
  });

  it("wrong types: 400 naming the parameter", async () => {
    expectError(
      await call("/chat/completions", chat({ messages: "hello" })),
      400,
      "invalid_request",
      "invalid_request_error",
      "messages",
    );
    expectError(
      await call("/chat/completions", chat({ n: "two" })),
      400,
      "invalid_request",
      "invalid_request_error",
      "n",
    );
    expectError(
      await call("/completions", { model, prompt: { text: "x" } }),
      400,
      "invalid_request",
      "invalid_request_error",
      "prompt",
    );
  });

  it("negative max_tokens: 400 on max_tokens", async () => {
    expectError(
      await call("/chat/completions", chat({ max_tokens: -5 })),
      400,
      "invalid_request",
      "invalid_request_error",
      "max_tokens",
    );
  });

  it("unknown model: 404 model_not_found", async () => {
    const msg = expectError(
      await call("/chat/completions", chat({ model: "nope" })),
      404,
      "model_not_found",
      "invalid_request_error",
      "model",
    );
    assert.match(msg, /nope/);
  });

  it("a prompt longer than the context: 400 prompt_too_long with both numbers", async () => {
    const prompt = "hello ".repeat(3000);
    const msg = expectError(
      await call("/completions", { model, prompt, max_tokens: 1 }),
      400,
      "prompt_too_long",
      "invalid_request_error",
      "prompt",
    );
    const numbers = [...msg.matchAll(/(\d+) tokens/g)].map((m) => Number(m[1]));
    assert.equal(numbers[0], 2048, msg);
    assert.ok(numbers[1]! > 2048, msg);
  });

  it("missing or wrong key: 401 unauthorized", async () => {
    expectError(
      await call("/chat/completions", chat(), { authorization: "" }),
      401,
      "unauthorized",
      "authentication_error",
      null,
    );
    expectError(
      await call("/chat/completions", chat(), { authorization: "Bearer wrong" }),
      401,
      "unauthorized",
      "authentication_error",
      null,
    );
  });

  it("a huge body: 413 payload_too_large", async () => {
    const r = await call("/completions", { model, prompt: "x".repeat(LIMIT + 10) });
    expectError(r, 413, "payload_too_large", "invalid_request_error", null);
  });

  it("the cluster still serves after all of the above", async () => {
    const res = await fetch(`${cluster.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify(chat({ max_tokens: 3 })),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { usage: { completion_tokens: number } };
    assert.ok(body.usage.completion_tokens >= 1);
    const load = await cluster.workerLoad();
    assert.equal(load.runningRequests, 0);
    const hg = await fetch(`${cluster.routerUrl}/health_generate`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(hg.status, 200);
  });
});
