/**
 * The OpenAI-compatible HTTP gateway (fastify 5): routes, API-key check, body limit, and the one
 * error handler that turns every failure into OpenAI's error body (./error-body.ts).
 *
 * Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /v1/models/{id}, GET /health,
 * GET /health_generate, GET /metrics, GET /openapi.json.
 * Only /v1/* needs the API key (when one is set); health, metrics and the OpenAPI description are
 * open so probes and scrapers need no secret.
 */
import { timingSafeEqual } from "node:crypto";
import { getLogger, RadixServeError } from "@radixserve/core";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { RouterError } from "../errors.js";
import type { WorkerPool } from "../workers/worker-pool.js";
import { runChoice } from "./choice-runner.js";
import { toHttpError } from "./error-body.js";
import { executePlan } from "./execute-plan.js";
import { registerModelRoutes } from "./model-routes.js";
import { checkRequestFields } from "./request-fields.js";
import { planChat, planCompletion } from "./request-plan.js";
import { type RetryOptions, retryOptions } from "./retry-policy.js";
import { RouterMetrics } from "./router-metrics.js";
import { chatCompletionSchema, completionSchema } from "./schemas.js";
import type { TextCodec } from "./text-codec.js";
import { toolCallParser } from "./tool-call-parser.js";

export interface GatewayOptions {
  pool: WorkerPool;
  codec: TextCodec;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /** Largest accepted request body in bytes (413 beyond). Default 8 MiB. */
  maxRequestBytes?: number | undefined;
  /** The OpenAPI description served at /openapi.json. */
  openapi?: unknown;
  /** Deadline of a generation request in ms (the worker aborts it then); 0 = none. Default 0. */
  requestTimeoutMs?: number | undefined;
  /** Retries before the first token (--max-retries and backoff). Default DEFAULT_RETRY. */
  retry?: Partial<RetryOptions> | undefined;
  /** `--tool-call-parser` (hermes, llama3, mistral); absent = read off the chat template. */
  toolCallParser?: string | undefined;
  /** Log each request (fastify's request logging). Default false. */
  logRequests?: boolean;
}

export const DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024;

function keyMatches(header: string | undefined, key: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const given = Buffer.from(header.slice("Bearer ".length).trim());
  const want = Buffer.from(key);
  return given.length === want.length && timingSafeEqual(given, want);
}

function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new RouterError("invalid_json", "The request body must be a JSON object.");
  return body as Record<string, unknown>;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : "";
  return `${err.message}${cause}`;
}

const HEALTH_GENERATE_TIMEOUT_MS = 20_000;

export async function buildGateway(
  opts: GatewayOptions,
): Promise<{ app: FastifyInstance; metrics: RouterMetrics }> {
  const { pool, codec } = opts;
  const metrics = new RouterMetrics(pool);
  const retry = retryOptions(opts.retry);
  const choiceDeps = {
    pool,
    codec,
    retry,
    onRetry: (reason: string) => metrics.retries.inc({ reason }),
  };
  const bodyLimit = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const app = Fastify({
    loggerInstance: getLogger("router") as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !opts.logRequests }),
    bodyLimit,
    // Streams can be long; the router's own deadlines apply, not Node's default request timeout.
    requestTimeout: 0,
  });

  // Accept a JSON body whatever Content-Type the client sends (curl -d sends form encoding).
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(
        new RouterError("invalid_json", "We could not parse the JSON body of your request.", { cause: err }),
      );
    }
  });

  const arrival = new WeakMap<FastifyRequest, number>();
  // SSE responses are counted by execute-plan.ts when they end (it knows about disconnects).
  const streamed = new WeakSet<FastifyRequest>();
  app.addHook("onRequest", async (req) => {
    arrival.set(req, performance.now());
    if (opts.apiKey && req.url.startsWith("/v1/") && !keyMatches(req.headers.authorization, opts.apiKey)) {
      throw new RadixServeError(
        "unauthorized",
        req.headers.authorization
          ? "Incorrect API key provided."
          : "You didn't provide an API key: send it as 'Authorization: Bearer <key>'.",
      );
    }
  });
  app.addHook("onResponse", async (req, reply) => {
    if (streamed.has(req)) return;
    const endpoint = req.routeOptions.url ?? "unknown";
    metrics.http.inc({ endpoint, status: String(reply.statusCode) });
    const t0 = arrival.get(req);
    if (t0 !== undefined && endpoint.startsWith("/v1/"))
      metrics.serving.e2e.observe((performance.now() - t0) / 1000);
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err);
    // Log a plain summary: pino's error serializer cannot tag the frozen catalog entry an error carries.
    if (e.status >= 500) req.log.error({ code: e.body.error.code, detail: describe(err) }, "request failed");
    else req.log.debug({ code: e.body.error.code }, "request rejected");
    void reply.code(e.status).send(e.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = toHttpError(new RouterError("route_not_found", `Unknown route: ${req.method} ${req.url}`));
    void reply.code(e.status).send(e.body);
  });

  const planOpts = {
    requestTimeoutMs: opts.requestTimeoutMs ?? 0,
    toolCallParser: opts.toolCallParser === undefined ? undefined : toolCallParser(opts.toolCallParser),
  };
  const exec = (req: FastifyRequest) => ({
    deps: choiceDeps,
    metrics,
    arrivalMs: arrival.get(req) ?? performance.now(),
    onStreamStart: () => streamed.add(req),
  });

  app.post("/v1/chat/completions", async (req, reply: FastifyReply) => {
    const raw = requireObject(req.body);
    checkRequestFields("chat", raw);
    const body = chatCompletionSchema.parse(raw);
    const plan = planChat(body, pool.models(), codec, planOpts);
    await executePlan(plan, exec(req), reply);
  });

  app.post("/v1/completions", async (req, reply: FastifyReply) => {
    const raw = requireObject(req.body);
    checkRequestFields("completion", raw);
    const body = completionSchema.parse(raw);
    const plan = planCompletion(body, pool.models(), codec, planOpts);
    await executePlan(plan, exec(req), reply);
  });

  registerModelRoutes(app, pool);

  app.get("/health", async (_req, reply) => {
    const healthy = pool.healthyCount();
    if (healthy === 0) throw new RadixServeError("no_worker", "No worker is healthy.");
    return reply.send({ status: "ok", workers_healthy: healthy, workers: pool.snapshot().length });
  });

  // Proves the whole path works: one greedy token through a real worker.
  app.get("/health_generate", async (_req, reply) => {
    const model = pool.models()[0];
    if (!model) throw new RadixServeError("no_worker", "No worker has reported its model yet.");
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), HEALTH_GENERATE_TIMEOUT_MS);
    const t0 = performance.now();
    try {
      let tokens = 0;
      const spec = {
        modelId: model.modelId,
        inputIds: codec.encodePrompt("ping"),
        maxNewTokens: 1,
        sampling: { temperature: 0 },
        stops: [],
        stopTokenIds: [],
        ignoreEos: true,
        logprobs: null,
      };
      for await (const ev of runChoice(choiceDeps, spec, ac.signal)) {
        if (ev.kind === "end") {
          if (ev.finishReason === "abort")
            throw new RadixServeError("deadline_exceeded", "health generation timed out");
          tokens = ev.usage.completionTokens;
        }
      }
      return reply.send({ status: "ok", generated_tokens: tokens, latency_ms: performance.now() - t0 });
    } finally {
      clearTimeout(timer);
    }
  });

  app.get("/metrics", async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get("/openapi.json", async (_req, reply) => {
    if (opts.openapi === undefined)
      throw new RouterError("route_not_found", "No OpenAPI description was loaded.");
    return reply.send(opts.openapi);
  });

  return { app, metrics };
}
