/**
 * The published OpenAPI description (docs/openapi.json) is valid-looking OpenAPI 3.1, documents
 * every route the gateway registers, and is what GET /openapi.json serves.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildGateway } from "../src/gateway/server.js";
import { loadOpenApi } from "../src/router-main.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { type FakeWorker, startFakeWorker } from "./fake-worker.js";

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
}

describe("openapi: docs/openapi.json", () => {
  let worker: FakeWorker;
  let pool: WorkerPool;
  let app: FastifyInstance;
  const doc = loadOpenApi() as OpenApiDoc;

  before(async () => {
    worker = await startFakeWorker();
    pool = new WorkerPool([worker.address], { pollIntervalMs: 1000 });
    await pool.start();
    ({ app } = await buildGateway({ pool, codec: new FakeCodec(), openapi: doc }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    pool.stop();
    await worker.close();
  });

  it("is OpenAPI 3.1 with resolvable component references", () => {
    assert.equal(doc.openapi, "3.1.0");
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[A-Za-z]+"/g) ?? [];
    assert.ok(refs.length > 5);
    for (const ref of refs) {
      const name = ref.slice('"#/components/schemas/'.length, -1);
      assert.ok(name in doc.components.schemas, `dangling $ref ${name}`);
    }
  });

  it("documents exactly the routes the gateway serves", () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    for (const want of documented) {
      const [method, path] = want.split(" ");
      assert.equal(
        app.hasRoute({ method: method as "GET", url: path!.replace(/\{(\w+)\}/g, ":$1") }),
        true,
        `${want} is documented but not served`,
      );
    }
    assert.deepEqual(documented, [
      "GET /dashboard",
      "GET /dashboard/state",
      "GET /get_model_info",
      "GET /get_server_info",
      "GET /health",
      "GET /health_generate",
      "GET /livez",
      "GET /metrics",
      "GET /openapi.json",
      "GET /readyz",
      "GET /v1/models",
      "GET /v1/models/{id}",
      "POST /flush_cache",
      "POST /generate",
      "POST /v1/chat/completions",
      "POST /v1/completions",
    ]);
  });

  it("every /v1 POST documents the error statuses the gateway answers with", () => {
    for (const path of ["/v1/chat/completions", "/v1/completions"]) {
      const responses = Object.keys(doc.paths[path]!["post"]!.responses).sort();
      assert.deepEqual(responses, ["200", "400", "401", "404", "413", "429", "503", "504"]);
    }
  });

  it("GET /openapi.json serves the same document", async () => {
    const res = await app.inject({ method: "GET", url: "/openapi.json" });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), doc);
  });
});
