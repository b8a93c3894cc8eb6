/**
 * The request surface: every field of the chat and completions tables either works (200), is
 * accepted with no effect (200), or is refused with a 400 naming it; unknown fields are 400;
 * GET /v1/models/{id}; tool turns in a conversation.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { type Endpoint, requestFields } from "../src/gateway/request-fields.js";
import { type FakeGateway, startFakeGateway } from "./fake-gateway.js";
import { FAKE_MODEL, type FakeWorker } from "./fake-worker.js";

/** A value for each field that is valid and, for refused fields, asks for the refused behaviour. */
const ACTIVE: Record<string, unknown> = {
  max_tokens: 3,
  max_completion_tokens: 3,
  temperature: 0.5,
  top_p: 0.9,
  top_k: 5,
  min_p: 0.1,
  frequency_penalty: 0.5,
  presence_penalty: 0.5,
  repetition_penalty: 1.1,
  seed: 7,
  stop: ["zz"],
  stop_token_ids: [3],
  n: 2,
  stream: false,
  stream_options: null,
  ignore_eos: true,
  logprobs: true,
  top_logprobs: 2,
  user: "u-1",
  metadata: { k: "v" },
  service_tier: "auto",
  prompt_cache_key: "k",
  safety_identifier: "s",
  parallel_tool_calls: false,
  logit_bias: { "65": 5 },
  regex: "[ab]+",
  ebnf: 'root ::= "a"',
  json_schema: "{}",
  store: true,
  response_format: { type: "json_object" },
  tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
  tool_choice: "required",
  functions: [{ name: "f", parameters: {} }],
  function_call: "auto",
  modalities: ["text", "audio"],
  audio: { voice: "alloy", format: "wav" },
  prediction: { type: "content", content: "x" },
  reasoning_effort: "low",
  verbosity: "low",
  web_search_options: {},
  echo: true,
  suffix: "end",
  best_of: 3,
};

/** The value of a refused field that means "off" (accepted). */
const INERT: Record<string, unknown> = {
  logit_bias: {},
  store: false,
  response_format: { type: "text" },
  tools: [],
  tool_choice: "none",
  functions: [],
  function_call: "none",
  modalities: ["text"],
  echo: false,
  suffix: "",
  best_of: 1,
};

const BASE: Record<Endpoint, Record<string, unknown>> = {
  chat: { model: FAKE_MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 3 },
  completion: { model: FAKE_MODEL, prompt: "hi", max_tokens: 3 },
};
const URL: Record<Endpoint, string> = { chat: "/v1/chat/completions", completion: "/v1/completions" };

describe("gateway request surface", () => {
  let gw: FakeGateway;
  let worker: FakeWorker;
  let app: FastifyInstance;
  before(async () => {
    gw = await startFakeGateway();
    ({ worker, app } = gw);
  });
  after(() => gw.close());

  const post = (url: string, body: unknown) => gw.post(url, body);

  for (const endpoint of ["chat", "completion"] as const) {
    it(`${endpoint}: every field of the table works, has no effect, or is refused by name`, async () => {
      for (const [name, rule] of Object.entries(requestFields(endpoint))) {
        if (name === "model" || name === "messages" || name === "prompt") continue;
        assert.ok(Object.hasOwn(ACTIVE, name), `the test has a value for '${name}'`);
        const value = endpoint === "completion" && name === "logprobs" ? 2 : ACTIVE[name];
        // top_logprobs needs logprobs (its own 400 otherwise, tested in gateway.test.ts).
        const extra = name === "top_logprobs" ? { logprobs: true } : {};
        const res = await post(URL[endpoint], { ...BASE[endpoint], ...extra, [name]: value });
        if (rule.kind === "refused") {
          assert.equal(res.statusCode, 400, `${name}: ${res.body}`);
          const err = res.json().error;
          assert.equal(err.param, name);
          assert.match(err.message, new RegExp(`'${name}' is not supported`));
          const inert = await post(URL[endpoint], { ...BASE[endpoint], [name]: INERT[name] ?? null });
          assert.equal(inert.statusCode, 200, `${name} off: ${inert.body}`);
        } else {
          assert.equal(res.statusCode, 200, `${name}: ${res.body}`);
        }
      }
    });

    it(`${endpoint}: an unknown field is a 400 naming it`, async () => {
      const res = await post(URL[endpoint], { ...BASE[endpoint], temprature: 0.5 });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json().error.param, "temprature");
      assert.equal(res.json().error.message, "Unrecognized request argument supplied: temprature");
    });
  }

  it("completion best_of equal to n is the same request as n", async () => {
    const res = await post(URL.completion, { ...BASE.completion, n: 2, best_of: 2 });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().choices.length, 2);
  });

  it("GET /v1/models/{id} returns the model, 404 model_not_found otherwise", async () => {
    const ok = await app.inject({ method: "GET", url: `/v1/models/${FAKE_MODEL}` });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().id, FAKE_MODEL);
    assert.equal(ok.json().object, "model");
    const missing = await app.inject({ method: "GET", url: "/v1/models/org/other-model" });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, "model_not_found");
    assert.match(missing.json().error.message, /'org\/other-model'/);
  });

  it("a conversation with assistant tool_calls and a tool result renders through the template", async () => {
    const messages = [
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
    ];
    const res = await post(URL.chat, { ...BASE.chat, messages, temperature: 0 });
    assert.equal(res.statusCode, 200, res.body);
    // The fake template writes `role: content`: the tool turn reached it.
    assert.match(Buffer.from(worker.requests.at(-1)?.inputIds ?? []).toString(), /tool: sunny\n/);
  });

  it("a tool message without tool_call_id and an unknown message key are 400s naming them", async () => {
    const noId = await post(URL.chat, { ...BASE.chat, messages: [{ role: "tool", content: "x" }] });
    assert.equal(noId.statusCode, 400);
    assert.equal(noId.json().error.param, "messages[0].tool_call_id");
    const extra = await post(URL.chat, {
      ...BASE.chat,
      messages: [{ role: "user", content: "x", colour: 1 }],
    });
    assert.equal(extra.statusCode, 400);
    assert.match(extra.json().error.message, /colour/);
  });
});
