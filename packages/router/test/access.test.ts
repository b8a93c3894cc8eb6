/**
 * The API key cannot be bypassed: every spelling of a protected route, sent as raw bytes over a
 * socket (so nothing normalises it on the way), is 401 without the key; the same spellings that
 * reach a route are served with the key (proof that the check is the matched route's). Also the
 * open probes, /metrics open or keyed, 405 with Allow.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { requestPath } from "../src/gateway/access.js";
import { buildGateway } from "../src/gateway/server.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { FAKE_MODEL, type FakeWorker, startFakeWorker } from "./fake-worker.js";
import { type RawResponse, rawRequest, requestText } from "./raw-http.js";

const KEY = "sk-access-test";
const CHAT = JSON.stringify({
  model: FAKE_MODEL,
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 2,
});

interface Served {
  worker: FakeWorker;
  pool: WorkerPool;
  app: FastifyInstance;
  port: number;
}

async function serve(metricsRequireKey = false): Promise<Served> {
  const worker = await startFakeWorker();
  const pool = new WorkerPool([worker.address], { pollIntervalMs: 50 });
  await pool.start();
  await pool.waitHealthy(5000);
  const { app } = await buildGateway({
    pool,
    codec: new FakeCodec(),
    apiKey: KEY,
    metricsRequireKey,
    openapi: { openapi: "3.1.0" },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  return { worker, pool, app, port: typeof addr === "object" && addr ? addr.port : 0 };
}

async function stop(s: Served): Promise<void> {
  await s.app.close();
  s.pool.stop();
  await s.worker.close();
}

function assertDenied(res: RawResponse, what: string): void {
  assert.equal(res.status, 401, `${what}: ${res.raw.slice(0, 200)}`);
  assert.equal(JSON.parse(res.body).error.code, "unauthorized", what);
  assert.doesNotMatch(res.body, new RegExp(FAKE_MODEL), `${what}: nothing of the route is served`);
}

describe("gateway access: the API key on the matched route", () => {
  let s: Served;
  before(async () => {
    s = await serve();
  });
  after(async () => stop(s));

  const host = () => `127.0.0.1:${s.port}`;
  /** [method, target, version, body?] of every bypass attempt. */
  const attempts = (): [string, string, string, string?][] => [
    ["GET", "/v1/models", "HTTP/1.1"],
    ["POST", "/v1/chat/completions", "HTTP/1.1", CHAT],
    // percent-encoded
    ["POST", "/v%31/chat/completions", "HTTP/1.1", CHAT],
    ["GET", "/%76%31/models", "HTTP/1.1"],
    ["GET", "/v1/%6dodels", "HTTP/1.1"],
    ["POST", "/v1/chat%2Fcompletions", "HTTP/1.1", CHAT],
    // double-encoded
    ["GET", "/%2576%2531/models", "HTTP/1.1"],
    ["POST", "/v%2531/chat/completions", "HTTP/1.1", CHAT],
    // absolute-form request lines
    ["POST", `http://${host()}/v1/chat/completions`, "HTTP/1.1", CHAT],
    ["GET", `http://${host()}/v1/models`, "HTTP/1.1"],
    ["GET", `HTTP://${host()}/%76%31/models`, "HTTP/1.1"],
    // dot segments
    ["GET", "/health/../v1/models", "HTTP/1.1"],
    ["GET", "/v1/./models", "HTTP/1.1"],
    ["GET", "/x/../v1/models", "HTTP/1.1"],
    ["GET", "/livez/..%2Fv1%2Fmodels", "HTTP/1.1"],
    ["POST", "/v1/../v1/chat/completions", "HTTP/1.1", CHAT],
    // case variants
    ["GET", "/V1/models", "HTTP/1.1"],
    ["GET", "/v1/MODELS", "HTTP/1.1"],
    ["POST", "/V1/Chat/Completions", "HTTP/1.1", CHAT],
    // trailing and doubled slashes
    ["GET", "/v1/models/", "HTTP/1.1"],
    ["POST", "/v1/chat/completions/", "HTTP/1.1", CHAT],
    ["GET", "//v1/models", "HTTP/1.1"],
    ["GET", "/v1//models", "HTTP/1.1"],
    // HTTP/1.0 (no Host header)
    ["GET", "/v1/models", "HTTP/1.0"],
    ["POST", "/v1/completions", "HTTP/1.0", JSON.stringify({ model: FAKE_MODEL, prompt: "x" })],
    // other tricks: HEAD, query and fragment, parameters, NUL
    ["HEAD", "/v1/models", "HTTP/1.1"],
    ["GET", "/v1/models?/health", "HTTP/1.1"],
    ["GET", "/v1/models;/livez", "HTTP/1.1"],
    ["GET", "/v1/models%00", "HTTP/1.1"],
    // every route but the probes is keyed
    ["GET", "/openapi.json", "HTTP/1.1"],
    ["GET", "/health_generate", "HTTP/1.1"],
    ["GET", "/no/such/route", "HTTP/1.1"],
  ];

  it("every spelling of a protected route is 401 without the key", async () => {
    for (const [method, target, version, body] of attempts()) {
      const res = await rawRequest(s.port, requestText(method, target, { version, body }));
      if (method === "HEAD") {
        assert.equal(res.status, 401, `HEAD ${target}`);
        continue;
      }
      assertDenied(res, `${method} ${target} ${version}`);
    }
    assert.equal(s.worker.requests.length, 0, "no request reached a worker");
  });

  it("the spellings that reach a route are served with the key (the check is the route's)", async () => {
    const authz = { authorization: `Bearer ${KEY}` };
    for (const target of ["/%76%31/models", `http://${host()}/v1/models`, "/v%31/models"]) {
      const res = await rawRequest(s.port, requestText("GET", target, { headers: authz }));
      assert.equal(res.status, 200, `${target}: ${res.raw.slice(0, 200)}`);
      assert.equal(JSON.parse(res.body).data[0].id, FAKE_MODEL);
    }
    const chat = await rawRequest(
      s.port,
      requestText("POST", "/v%31/chat/completions", { headers: authz, body: CHAT }),
    );
    assert.equal(chat.status, 200, chat.raw.slice(0, 300));
    const wrong = await rawRequest(
      s.port,
      requestText("GET", "/v1/models", { headers: { authorization: `Bearer ${KEY}x` } }),
    );
    assertDenied(wrong, "a wrong key");
    const basic = await rawRequest(
      s.port,
      requestText("GET", "/v1/models", { headers: { authorization: `Basic ${KEY}` } }),
    );
    assertDenied(basic, "the key under another scheme");
  });

  it("an HTTP/2 connection preface gets no route served (the gateway speaks HTTP/1.x only)", async () => {
    const res = await rawRequest(s.port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert.ok(res.status === 0 || res.status >= 400, res.raw.slice(0, 200));
    assert.doesNotMatch(res.raw, new RegExp(FAKE_MODEL));
  });

  it("probes and /metrics are open; every answer carries x-request-id", async () => {
    for (const path of ["/livez", "/readyz", "/health", "/metrics"]) {
      const res = await rawRequest(s.port, requestText("GET", path));
      assert.equal(res.status, 200, path);
      assert.match(res.headers["x-request-id"] ?? "", /^req-[0-9a-f]{24}$/, path);
    }
    const named = await rawRequest(
      s.port,
      requestText("GET", "/livez", { headers: { "x-request-id": "abc-1" } }),
    );
    assert.equal(named.headers["x-request-id"], "abc-1", "a well-formed client id is kept");
    const odd = await rawRequest(
      s.port,
      requestText("GET", "/livez", { headers: { "x-request-id": "a b<c>" } }),
    );
    assert.match(odd.headers["x-request-id"] ?? "", /^req-/, "a malformed one is replaced");
  });

  it("TRACE, other methods on known paths and unknown methods are 405 with Allow", async () => {
    const authz = { authorization: `Bearer ${KEY}` };
    const trace = await rawRequest(s.port, requestText("TRACE", "/v1/models", { headers: authz }));
    assert.equal(trace.status, 405);
    assert.equal(trace.headers.allow, "GET, HEAD");
    assert.equal(JSON.parse(trace.body).error.code, "method_not_allowed");
    const openTrace = await rawRequest(s.port, requestText("TRACE", "/livez"));
    assert.equal(openTrace.status, 405, "an open path needs no key for its 405");
    // QUERY carries a body: it is refused before any body parsing (no 400 for a missing type).
    const query = await rawRequest(s.port, requestText("QUERY", "/v1/models", { headers: authz }));
    assert.equal(query.status, 405, query.raw.slice(0, 200));
    // A parametric route's path is known too: QUERY and DELETE on a model id are 405, not 400/404.
    for (const method of ["QUERY", "DELETE"]) {
      const onId = await rawRequest(s.port, requestText(method, "/v1/models/some-id", { headers: authz }));
      assert.equal(onId.status, 405, `${method} /v1/models/{id}: ${onId.raw.slice(0, 200)}`);
      assert.equal(onId.headers.allow, "GET, HEAD");
    }
    const put = await rawRequest(s.port, requestText("PUT", "/v1/chat/completions", { headers: authz }));
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, "POST");
    assertDenied(await rawRequest(s.port, requestText("DELETE", "/v1/models")), "DELETE without a key");
    // Methods Node's parser does not know (a lower-case `get` is one) never reach a route.
    for (const method of ["FROB", "get"]) {
      const unknown = await rawRequest(s.port, requestText(method, "/v1/models"));
      assert.equal(unknown.status, 405, unknown.raw.slice(0, 200));
      assert.equal(unknown.headers.allow, "GET, HEAD, POST");
      assert.doesNotMatch(unknown.body, new RegExp(FAKE_MODEL));
    }
  });
});

describe("gateway access: /metrics keyed by a flag", () => {
  let s: Served;
  before(async () => {
    s = await serve(true);
  });
  after(async () => stop(s));

  it("/metrics needs the key, the probes still do not", async () => {
    assertDenied(await rawRequest(s.port, requestText("GET", "/metrics")), "/metrics");
    assertDenied(await rawRequest(s.port, requestText("GET", "/%6detrics")), "/%6detrics");
    const keyed = await rawRequest(
      s.port,
      requestText("GET", "/metrics", { headers: { authorization: `Bearer ${KEY}` } }),
    );
    assert.equal(keyed.status, 200);
    assert.equal((await rawRequest(s.port, requestText("GET", "/livez"))).status, 200);
  });
});

describe("gateway access: helpers", () => {
  it("requestPath drops the origin and the query and decodes once", () => {
    assert.equal(requestPath("http://h:1/v%31/models?x=1"), "/v1/models");
    assert.equal(requestPath("/%2576"), "/%76");
    assert.equal(requestPath("/%zz"), null);
  });
});
