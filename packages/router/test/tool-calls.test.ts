/**
 * Tool calls through the gateway (fake worker scripting the model's text, fake hermes-style
 * template): tools reach the template, calls come back as OpenAI tool_calls with
 * finish_reason tool_calls, streamed deltas reassemble to the same calls, parallel_tool_calls
 * false keeps one call, text that is not a call stays content; and the parsers' formats.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { parserForTemplate, toolCallParser } from "../src/gateway/tool-call-parser.js";
import { type FakeGateway, startFakeGateway } from "./fake-gateway.js";
import { FAKE_MODEL, type FakeWorker, SCRIPT } from "./fake-worker.js";

const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];
const TWO_CALLS =
  'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n' +
  '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>';

interface Chunk {
  choices: {
    finish_reason: string | null;
    delta: {
      content?: string;
      tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[];
    };
  }[];
}
interface CallJson {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

function sse(payload: string): Chunk[] {
  return payload
    .split("\n\n")
    .filter((b) => b.startsWith("data: ") && b !== "data: [DONE]")
    .map((b) => JSON.parse(b.slice(6)));
}

describe("gateway tool calls", () => {
  let gw: FakeGateway;
  let worker: FakeWorker;
  before(async () => {
    gw = await startFakeGateway({ contextLength: 1024 });
    worker = gw.worker;
  });
  after(() => gw.close());
  beforeEach(() => {
    worker.script = TWO_CALLS;
  });

  const chat = (extra: Record<string, unknown>) =>
    gw.post("/v1/chat/completions", {
      model: FAKE_MODEL,
      messages: [{ role: "user", content: "weather in Paris and Oslo?" }],
      max_tokens: 400,
      tools: TOOLS,
      ...extra,
    });

  it("tools reach the template; calls come back with ids and finish_reason tool_calls", async () => {
    const res = await chat({});
    assert.equal(res.statusCode, 200, res.body);
    assert.match(Buffer.from(worker.requests.at(-1)!.inputIds).toString(), /^tools: get_weather\n/);
    const choice = res.json().choices[0];
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, "Let me check.");
    const calls = choice.message.tool_calls;
    assert.equal(calls.length, 2);
    for (const c of calls) {
      assert.match(c.id, /^call_[0-9a-f]{24}$/);
      assert.equal(c.type, "function");
      assert.equal(c.function.name, "get_weather");
    }
    assert.deepEqual(
      calls.map((c: CallJson) => JSON.parse(c.function.arguments).city),
      ["Paris", "Oslo"],
    );
  });

  it("streamed deltas reassemble to the non-streamed calls", async () => {
    const whole = (await chat({})).json().choices[0].message;
    const chunks = sse((await chat({ stream: true })).body);
    let content = "";
    const calls: { id?: string; name: string; arguments: string }[] = [];
    let finish = null;
    for (const ch of chunks) {
      const c = ch.choices[0]!;
      if (c.finish_reason) finish = c.finish_reason;
      if (c.delta.content) content += c.delta.content;
      for (const tc of c.delta.tool_calls ?? []) {
        calls[tc.index] ??= { name: "", arguments: "" };
        if (tc.id) calls[tc.index]!.id = tc.id;
        calls[tc.index]!.name += tc.function?.name ?? "";
        calls[tc.index]!.arguments += tc.function?.arguments ?? "";
      }
    }
    assert.equal(finish, "tool_calls");
    assert.equal(content.trim(), whole.content);
    assert.ok(!content.includes("<tool_call"), "no call markup leaks into content deltas");
    assert.deepEqual(
      calls.map((c) => [c.name, JSON.parse(c.arguments)]),
      whole.tool_calls.map((c: CallJson) => [c.function.name, JSON.parse(c.function.arguments)]),
    );
    assert.ok(calls.every((c) => c.id?.startsWith("call_")));
  });

  it("parallel_tool_calls false keeps the first call", async () => {
    const res = await chat({ parallel_tool_calls: false });
    assert.equal(res.json().choices[0].message.tool_calls.length, 1);
  });

  it("an answer without a call is plain content with finish_reason stop", async () => {
    worker.script = SCRIPT;
    const res = await chat({});
    const choice = res.json().choices[0];
    assert.equal(choice.finish_reason, "stop");
    assert.equal(choice.message.content, SCRIPT);
    assert.equal(choice.message.tool_calls, undefined);
    const streamed = sse((await chat({ stream: true })).body)
      .map((c) => c.choices[0]?.delta?.content ?? "")
      .join("");
    assert.equal(streamed, SCRIPT);
  });

  it("a call that does not parse stays content", async () => {
    worker.script = "<tool_call>{not json</tool_call>";
    const choice = (await chat({})).json().choices[0];
    assert.equal(choice.message.content, "<tool_call>{not json</tool_call>");
    assert.equal(choice.finish_reason, "stop");
  });

  it("tool_choice none renders no tools and parses nothing; required is refused by name", async () => {
    const none = await chat({ tool_choice: "none" });
    assert.equal(none.json().choices[0].message.tool_calls, undefined);
    assert.doesNotMatch(Buffer.from(worker.requests.at(-1)!.inputIds).toString(), /^tools:/);
    const required = await chat({ tool_choice: "required" });
    assert.equal(required.statusCode, 400);
    assert.equal(required.json().error.param, "tool_choice");
  });
});

describe("tool-call parsers", () => {
  it("hermes, llama3 and mistral formats parse; templates pick their parser", () => {
    const llama = toolCallParser("llama3").parse(
      '<|python_tag|>{"name": "f", "parameters": {"a": 1}}; {"name": "g", "parameters": {}}',
    );
    assert.deepEqual(llama.calls, [
      { name: "f", arguments: '{"a":1}' },
      { name: "g", arguments: "{}" },
    ]);
    const mistral = toolCallParser("mistral").parse('[TOOL_CALLS] [{"name": "f", "arguments": {"x": "y"}}]');
    assert.deepEqual(mistral.calls, [{ name: "f", arguments: '{"x":"y"}' }]);
    assert.equal(toolCallParser("mistral").parse("[not a call").calls.length, 0);
    assert.equal(parserForTemplate("... <tool_call> ...")?.name, "hermes");
    assert.equal(parserForTemplate("{{ '<|python_tag|>' }}")?.name, "llama3");
    assert.equal(parserForTemplate("[TOOL_CALLS]")?.name, "mistral");
    assert.equal(parserForTemplate("{{ messages }}"), null);
    assert.throws(() => toolCallParser("pythonic"), /expected one of hermes, llama3, mistral/);
  });

  it("callStart holds back a marker prefix while streaming", () => {
    const h = toolCallParser("hermes");
    assert.equal(h.callStart("Sure <tool"), 5);
    assert.equal(h.callStart("Sure thing"), -1);
    assert.equal(toolCallParser("llama3").callStart('  {"name"'), 2);
    assert.equal(toolCallParser("llama3").callStart("Paris is"), -1);
  });
});
