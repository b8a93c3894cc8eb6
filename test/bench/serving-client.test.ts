/**
 * bench/serving's client against a scripted HTTP server: a `fetch failed` before any response
 * byte (the socket closed under the request, as a stale keep-alive socket does) is retried once and
 * counted; a second one, a cut stream, and an HTTP error are failures with their own cause, never
 * retried after the server answered.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { failureCause, streamCompletion, type Target } from "../../bench/serving/stream-client.js";

type Script = (req: IncomingMessage, res: ServerResponse, n: number) => void;

const sse = (res: ServerResponse, events: unknown[], end = true) => {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
  if (end) res.end("data: [DONE]\n\n");
};
const usage = {
  usage: { prompt_tokens: 3, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 1 } },
};
const text = (t: string) => ({ choices: [{ text: t, finish_reason: null }] });

describe("bench/serving client: retries and failure causes", () => {
  let server: Server;
  let script: Script = () => {};
  let requests = 0;
  let target: Target;

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => script(req, res, ++requests));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    target = { baseUrl: `http://127.0.0.1:${port}/v1`, model: "m", backend: "radixserve" };
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const reset = (s: Script) => {
    requests = 0;
    script = s;
  };

  it("a socket closed before any byte is retried once, and the retry is counted", async () => {
    reset((req, res, n) => (n === 1 ? req.socket.destroy() : sse(res, [text("a"), text("b"), usage])));
    const r = await streamCompletion(target, [1, 2, 3], 2);
    assert.equal(r.ok, true, r.error);
    assert.equal(r.retries, 1);
    assert.equal(requests, 2);
    assert.equal(r.completionTokens, 2);
    assert.equal(r.cachedTokens, 1);
  });

  it("a second fetch failure is a failure with its cause, after exactly one retry", async () => {
    reset((req) => req.socket.destroy());
    const r = await streamCompletion(target, [1, 2, 3], 2);
    assert.equal(r.ok, false);
    assert.equal(r.retries, 1);
    assert.equal(requests, 2);
    assert.match(failureCause(r), /^fetch failed \(/);
    assert.match(r.error ?? "", /fetch failed twice/);
  });

  it("a stream cut after the headers is not retried (the request ran): cause 'stream cut'", async () => {
    reset((_req, res) => {
      sse(res, [text("a")], false);
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const r = await streamCompletion(target, [1, 2, 3], 2);
    assert.equal(r.ok, false);
    assert.equal(r.retries, 0);
    assert.equal(requests, 1);
    assert.equal(failureCause(r), "stream cut");
  });

  it("an HTTP error and an SSE error event are failures by status / kind, not retried", async () => {
    reset((_req, res) => {
      res.writeHead(503, { "content-type": "application/json" });
      res.end('{"error":{"message":"no worker"}}');
    });
    const r = await streamCompletion(target, [1, 2, 3], 2);
    assert.equal(failureCause(r), "HTTP 503");
    assert.equal(requests, 1);
    reset((_req, res) => sse(res, [{ error: { message: "boom" } }]));
    assert.equal(failureCause(await streamCompletion(target, [1, 2, 3], 2)), "stream error event");
    reset((_req, res) => sse(res, [text("a")]));
    assert.equal(failureCause(await streamCompletion(target, [1, 2, 3], 2)), "no usage chunk");
  });
});
