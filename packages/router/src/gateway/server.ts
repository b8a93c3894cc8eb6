/**
 * The OpenAI-compatible HTTP gateway (fastify 5): routes, API-key check, body limit, and the one
 * error handler that turns every failure into OpenAI's error body (./error-body.ts).
 *
 * Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /v1/models/{id},
 * GET /health (= /readyz), GET /readyz, GET /livez, GET /health_generate, GET /metrics, GET /openapi.json,
 * GET /dashboard (open: an HTML shell) and GET /dashboard/state (its data, keyed like /v1/*), and SGLang's
 * native API (../native-api: POST /generate, GET /get_model_info, GET /get_server_info, POST /flush_cache).
 * With an API key, every route needs it except the probes (/livez, /readyz, /health) and /metrics
 * (unless metricsRequireKey): the check is on the matched route, deny by default (./access.ts).
 *
 * Every response carries `x-request-id` (the client's own when it sent a well-formed one); error
 * bodies carry it as `error.request_id`, and the log lines of the request carry it as `reqId`.
 */
import { isUtf8 } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { getLogger, RadixServeError } from "@radixserve/core";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { RouterError } from "../errors.js";
import { registerNativeApi } from "../native-api/index.js";
import { registerStatusPage } from "../status/status-routes.js";
import type { WorkerPool } from "../workers/worker-pool.js";
import { answerClientError, installAccessControl } from "./access.js";
import { runChoice } from "./choice-runner.js";
import { RETRY_AFTER_UNAVAILABLE_S, toHttpError } from "./error-body.js";
import { executePlan } from "./execute-plan.js";
import { registerModelRoutes } from "./model-routes.js";
import { checkRequestFields } from "./request-fields.js";
import { type RequestLimits, requestLimits } from "./request-limits.js";
import { planChat, planCompletion } from "./request-plan.js";
import { type RetryOptions, retryOptions } from "./retry-policy.js";
import { RouterMetrics } from "./router-metrics.js";
import { chatCompletionSchema, completionSchema } from "./schemas.js";
import type { TextCodec } from "./text-codec.js";
import { toolCallParser } from "./tool-call-parser.js";

export interface GatewayOptions {
  pool: WorkerPool;
  /**
   * The tokenizer, or where to get it: a function answers null until the router has one (no
   * worker has reported its model yet); until then generation answers 503 not_ready.
   */
  codec: TextCodec | (() => TextCodec | null);
  /** When set, every route but the probes (and /metrics) requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /** /metrics needs the API key too. Default false (scrapers need no secret). */
  metricsRequireKey?: boolean | undefined;
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
  /** Size limits of one request (prompt characters and tokens, fan-out). Default DEFAULT_LIMITS. */
  limits?: Partial<RequestLimits> | undefined;
  /** Log each request (fastify's request logging). Default false. */
  logRequests?: boolean;
}

export const DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's x-request-id when it is a plain token, else a fresh one. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && REQUEST_ID.test(given)) return given;
  return `req-${randomBytes(12).toString("hex")}`;
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
  const { pool } = opts;
  const codecSource = opts.codec;
  const currentCodec = typeof codecSource === "function" ? codecSource : () => codecSource;
  const codec = (): TextCodec => {
    const c = currentCodec();
    if (!c) throw new RouterError("not_ready");
    return c;
  };
  const metrics = new RouterMetrics(pool);
  const retry = retryOptions(opts.retry);
  const choiceDepsFor = (c: TextCodec) => ({
    pool,
    codec: c,
    retry,
    onRetry: (reason: string) => metrics.retries.inc({ reason }),
  });
  const bodyLimit = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const app = Fastify({
    loggerInstance: getLogger("router") as FastifyBaseLogger,
    logController: new LogController({
      disableRequestLogging: !opts.logRequests,
      requestIdLogLabel: "reqId",
    }),
    bodyLimit,
    // Streams can be long; the router's own deadlines apply, not Node's default request timeout.
    requestTimeout: 0,
    genReqId: requestIdOf,
    requestIdHeader: false,
    clientErrorHandler: answerClientError,
  });

  // Accept a JSON body whatever Content-Type the client sends (curl -d sends form encoding), as
  // UTF-8 only: bytes that are not UTF-8 are refused rather than silently replaced.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) {
      done(new RouterError("invalid_json", "The request body is not valid UTF-8."));
      return;
    }
    try {
      done(null, JSON.parse(bytes.toString("utf8")));
    } catch (err) {
      done(
        new RouterError("invalid_json", "We could not parse the JSON body of your request.", { cause: err }),
      );
    }
  });

  const arrival = new WeakMap<FastifyRequest, number>();
  // SSE responses are counted by execute-plan.ts when they end (it knows about disconnects).
  const streamed = new WeakSet<FastifyRequest>();
  app.addHook("onRequest", async (req, reply) => {
    arrival.set(req, performance.now());
    void reply.header("x-request-id", req.id);
  });
  // The error code of each failed answer, for the outcome counter (set where the body is made).
  const errorCodes = new WeakMap<FastifyRequest, string>();
  // After the hook above, so that a 401 carries the request id too.
  installAccessControl(app, { apiKey: opts.apiKey });
  app.addHook("onResponse", async (req, reply) => {
    if (streamed.has(req)) return;
    const endpoint = req.routeOptions.url ?? "unknown";
    metrics.recordAnswer(endpoint, reply.statusCode, errorCodes.get(req) ?? null);
    const t0 = arrival.get(req);
    if (t0 !== undefined && endpoint.startsWith("/v1/"))
      metrics.serving.e2e.observe((performance.now() - t0) / 1000);
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err, req.id);
    errorCodes.set(req, e.body.error.code);
    // Log a plain summary: pino's error serializer cannot tag the frozen catalog entry an error carries.
    const entry = { code: e.body.error.code, status: e.status, detail: describe(err) };
    if (e.status >= 500 && e.status !== 503) req.log.error(entry, "request failed");
    else if (e.status === 429 || e.status === 503) req.log.warn(entry, "request refused");
    else req.log.debug(entry, "request rejected");
    if (e.retryAfterS !== undefined) void reply.header("retry-after", String(e.retryAfterS));
    void reply.code(e.status).send(e.body);
  });

  const planOpts = {
    requestTimeoutMs: opts.requestTimeoutMs ?? 0,
    limits: requestLimits(opts.limits),
    toolCallParser: opts.toolCallParser === undefined ? undefined : toolCallParser(opts.toolCallParser),
  };
  const exec = (req: FastifyRequest, c: TextCodec) => ({
    deps: choiceDepsFor(c),
    metrics,
    arrivalMs: arrival.get(req) ?? performance.now(),
    onStreamStart: () => streamed.add(req),
    traceparent: typeof req.headers.traceparent === "string" ? req.headers.traceparent : undefined,
  });

  app.post("/v1/chat/completions", async (req, reply: FastifyReply) => {
    const raw = requireObject(req.body);
    checkRequestFields("chat", raw);
    const body = chatCompletionSchema.parse(raw);
    const c = codec();
    const plan = await planChat(body, pool.models(), c, planOpts);
    await executePlan(plan, exec(req, c), reply);
  });

  app.post("/v1/completions", async (req, reply: FastifyReply) => {
    const raw = requireObject(req.body);
    checkRequestFields("completion", raw);
    const body = completionSchema.parse(raw);
    const c = codec();
    const plan = await planCompletion(body, pool.models(), c, planOpts);
    await executePlan(plan, exec(req, c), reply);
  });

  registerNativeApi(app, {
    pool,
    codec,
    choiceDeps: choiceDepsFor,
    onFinished: (ev) => metrics.serving.recordFinished(ev.finishReason, ev.usage),
    requestTimeoutMs: planOpts.requestTimeoutMs,
    limits: planOpts.limits,
    serverArgs: { request_timeout_ms: planOpts.requestTimeoutMs, max_request_bytes: bodyLimit },
  });

  registerModelRoutes(app, pool);

  // Readiness: a worker can take requests and the tokenizer is loaded (503 + Retry-After else).
  const ready = async (_req: FastifyRequest, reply: FastifyReply) => {
    const healthy = pool.healthyCount();
    const workers = pool.snapshot().length;
    if (healthy === 0 || currentCodec() === null) {
      void reply.code(503).header("retry-after", String(RETRY_AFTER_UNAVAILABLE_S));
      return reply.send({ status: "not_ready", workers_healthy: healthy, workers });
    }
    return reply.send({ status: "ok", workers_healthy: healthy, workers });
  };
  const open = { config: { open: true } };
  app.get("/readyz", open, ready);
  app.get("/health", open, ready);
  // Liveness: the process and its event loop answer, whatever the workers do.
  app.get("/livez", open, async () => ({ status: "ok" }));

  // Proves the whole path works: one greedy token through a real worker.
  app.get("/health_generate", async (_req, reply) => {
    const model = pool.models()[0];
    if (!model) throw new RadixServeError("no_worker", "No worker has reported its model yet.");
    const c = codec();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), HEALTH_GENERATE_TIMEOUT_MS);
    const t0 = performance.now();
    try {
      let tokens = 0;
      const spec = {
        modelId: model.modelId,
        inputIds: await c.encodePrompt("ping"),
        maxNewTokens: 1,
        sampling: { temperature: 0 },
        stops: [],
        stopTokenIds: [],
        ignoreEos: true,
        logprobs: null,
      };
      for await (const ev of runChoice(choiceDepsFor(c), spec, ac.signal)) {
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

  app.get("/metrics", { config: { open: !opts.metricsRequireKey } }, async (_req, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });

  registerStatusPage(app, { pool, metrics });

  app.get("/openapi.json", async (_req, reply) => {
    if (opts.openapi === undefined)
      throw new RouterError("route_not_found", "No OpenAPI description was loaded.");
    return reply.send(opts.openapi);
  });

  return { app, metrics };
}
