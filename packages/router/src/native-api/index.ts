/**
 * SGLang's native HTTP API beside the OpenAI routes: POST /generate, GET /get_model_info,
 * GET /get_server_info, POST /flush_cache. Registered in one place by the gateway; every route is
 * behind the API key like the OpenAI ones (the gateway's access control on the matched route).
 */
import { randomUUID } from "node:crypto";
import { RadixServeError } from "@radixserve/core";
import type { FastifyInstance } from "fastify";
import type { ChoiceDeps, ChoiceEvent } from "../gateway/choice-runner.js";
import type { RequestLimits } from "../gateway/request-limits.js";
import type { TextCodec } from "../gateway/text-codec.js";
import type { WorkerPool } from "../workers/worker-pool.js";
import { executeGenerate } from "./generate.js";
import { planGenerate } from "./generate-plan.js";
import { parseGenerateBody } from "./generate-schema.js";

export interface NativeApiOptions {
  pool: WorkerPool;
  /** The codec, or throws not_ready. */
  codec: () => TextCodec;
  choiceDeps: (codec: TextCodec) => ChoiceDeps;
  onFinished: (ev: Extract<ChoiceEvent, { kind: "end" }>) => void;
  /** Deadline of a generation in ms; 0 = none. */
  requestTimeoutMs: number;
  /** Prompt size and fan-out limits (the OpenAI routes' own). */
  limits: RequestLimits;
  /** What /get_server_info reports of the router's own settings. */
  serverArgs: Record<string, unknown>;
}

const FLUSH_TIMEOUT_MS = 10_000;

function firstModel(pool: WorkerPool) {
  const model = pool.models()[0];
  if (!model) throw new RadixServeError("no_worker", "No worker has reported its model yet.");
  return model;
}

export function registerNativeApi(app: FastifyInstance, opts: NativeApiOptions): void {
  const { pool } = opts;

  app.post("/generate", async (req, reply) => {
    const body = parseGenerateBody(req.body);
    const codec = opts.codec();
    const model = firstModel(pool);
    const deadline = opts.requestTimeoutMs > 0 ? Date.now() + opts.requestTimeoutMs : 0;
    const plan = await planGenerate(
      body,
      codec,
      model.modelId,
      () => randomUUID().replaceAll("-", ""),
      deadline,
      opts.limits,
    );
    await executeGenerate(plan, { deps: opts.choiceDeps(codec), onFinished: opts.onFinished }, reply);
  });

  app.get("/get_model_info", async () => {
    const m = firstModel(pool);
    return {
      // The served name, never the server's file path (as /v1/models).
      model_path: m.modelId,
      tokenizer_path: m.modelId,
      is_generation: true,
      max_context_length: m.maxContextLength,
      vocab_size: m.vocabSize,
    };
  });

  app.get("/get_server_info", async () => {
    const workers = pool.snapshot();
    return {
      version: "radixserve",
      ...opts.serverArgs,
      models: pool.models().map((m) => ({
        model_id: m.modelId,
        max_context_length: m.maxContextLength,
        block_size: m.blockSize,
        tp_size: m.tpSize,
      })),
      workers: workers.map((w) => ({
        address: w.address,
        healthy: w.healthy,
        disagg_mode: w.model?.disaggMode ?? null,
        running_requests: w.load?.runningRequests ?? null,
        queued_requests: w.load?.queuedRequests ?? null,
        kv_blocks_free: w.load?.kvBlocksFree ?? null,
        kv_blocks_total: w.load?.kvBlocksTotal ?? null,
        cache_hit_rate: w.load?.cacheHitRate ?? null,
      })),
    };
  });

  app.post("/flush_cache", async () => {
    const clients = pool.healthyClients();
    const freed = await Promise.all(clients.map((c) => c.flushCache(FLUSH_TIMEOUT_MS)));
    return { success: true, workers: clients.length, blocks_freed: freed.reduce((a, b) => a + b, 0) };
  });
}
