/**
 * The router's status page and outcome counting against a fake worker over real gRPC (fastify
 * inject for HTTP): /dashboard is an open HTML shell, /dashboard/state needs the API key and lists
 * the worker with its health (down once it is killed, and still listed after it leaves the pool);
 * every answer, rejections included, is counted by status class and error code.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildGateway } from "../src/gateway/server.js";
import type { StatusState } from "../src/status/status-board.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { FAKE_MODEL, type FakeWorker, startFakeWorker } from "./fake-worker.js";

const KEY = "sk-status";
const auth = { authorization: `Bearer ${KEY}` };

describe("router status page and outcome metrics", () => {
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

  const state = async (): Promise<StatusState> => {
    const r = await app.inject({ method: "GET", url: "/dashboard/state", headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as StatusState;
  };
  const metric = async (re: RegExp): Promise<number> => {
    const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
    return Number(re.exec(text)?.[1] ?? Number.NaN);
  };

  it("serves the page without the key, its data only with it", async () => {
    const page = await app.inject({ method: "GET", url: "/dashboard" });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers["content-type"]), /text\/html/);
    assert.match(page.body, /RadixServe status/);
    assert.doesNotMatch(page.body, new RegExp(worker.address), "the shell carries no cluster data");
    const anon = await app.inject({ method: "GET", url: "/dashboard/state" });
    assert.equal(anon.statusCode, 401);
    assert.equal(anon.json().error.code, "unauthorized");
    const wrong = await app.inject({
      method: "GET",
      url: "/dashboard/state",
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.statusCode, 401);
    const s = await state();
    assert.equal(s.model, FAKE_MODEL);
    assert.equal(s.workers.length, 1);
    assert.equal(s.workers[0]!.address, worker.address);
    assert.equal(s.workers[0]!.health, "up");
    assert.equal(s.workersUp, 1);
  });

  it("counts every answer by status class and error code, rejected ones as finish_reason=error", async () => {
    const ep = 'endpoint="/v1/completions"';
    const byCode = (code: string, cls: string) =>
      metric(
        new RegExp(
          `radixserve_http_requests_total\\{${ep},status="\\d+",status_class="${cls}",error_code="${code}"[^}]*\\} (\\d+)`,
        ),
      );
    const errors = () => metric(/radixserve_requests_total\{finish_reason="error"[^}]*\} (\d+)/);
    // Present at zero before anything happened: the first failure is a visible step.
    assert.equal(await byCode("invalid_request", "4xx"), 0);
    assert.equal(await byCode("no_worker", "5xx"), 0);
    assert.equal(await errors(), 0);
    const post = (body: unknown, headers: Record<string, string> = auth) =>
      app.inject({
        method: "POST",
        url: "/v1/completions",
        headers: { "content-type": "application/json", ...headers },
        payload: JSON.stringify(body),
      });
    assert.equal((await post({ model: FAKE_MODEL, prompt: "x", max_tokens: -1 })).statusCode, 400);
    assert.equal((await post({ model: FAKE_MODEL, prompt: "x", max_tokens: 2 }, {})).statusCode, 401);
    assert.equal((await post({ model: FAKE_MODEL, prompt: "x", max_tokens: 2 })).statusCode, 200);
    assert.equal(await byCode("invalid_request", "4xx"), 1);
    assert.equal(await byCode("unauthorized", "4xx"), 1);
    assert.equal(await byCode("none", "2xx"), 1);
    assert.equal(await errors(), 2);
  });

  it("shows a killed worker as down, and keeps it listed after it leaves the pool", async () => {
    worker.kill();
    let s = await state();
    const deadline = Date.now() + 5000;
    while (s.workers[0]?.health !== "down" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      s = await state();
    }
    assert.equal(s.workers[0]?.health, "down");
    assert.equal(s.workersUp, 0);
    pool.removeWorker(worker.address);
    s = await state();
    assert.equal(s.workers.length, 1);
    assert.equal(s.workers[0]!.health, "down");
    assert.equal(s.workers[0]!.detail, "left the cluster");
    assert.ok(s.workers[0]!.goneForMs !== null);
  });
});
