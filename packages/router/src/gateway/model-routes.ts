/**
 * GET /v1/models and GET /v1/models/{id}: the served models as OpenAI model objects (plus
 * vLLM/SGLang's `root` and `max_model_len`). An unknown id is a 404 `model_not_found`, as OpenAI
 * answers it.
 */
import type { GetModelInfoResponse__Output } from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import type { FastifyInstance } from "fastify";
import type { WorkerPool } from "../workers/worker-pool.js";

function modelCard(m: GetModelInfoResponse__Output) {
  return {
    id: m.modelId,
    object: "model",
    created: 0,
    owned_by: "radixserve",
    // The served name, never the server's file path.
    root: m.modelId,
    max_model_len: m.maxContextLength,
  };
}

export function registerModelRoutes(app: FastifyInstance, pool: WorkerPool): void {
  app.get("/v1/models", async () => ({ object: "list", data: pool.models().map(modelCard) }));

  const retrieve = (id: string) => {
    const found = pool.models().find((m) => m.modelId === id);
    if (!found)
      throw new RadixServeError("model_not_found", `The model '${id}' does not exist.`, { param: "model" });
    return modelCard(found);
  };
  // The SDKs URL-encode the id (org%2Fname reaches :id decoded); the wildcard takes a raw org/name.
  app.get<{ Params: { id: string } }>("/v1/models/:id", async (req) => retrieve(req.params.id));
  app.get<{ Params: { "*": string } }>("/v1/models/*", async (req) => retrieve(req.params["*"]));
}
