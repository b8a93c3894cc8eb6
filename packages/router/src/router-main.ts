/**
 * The router process: starts the HTTP gateway at once, connects to the workers, loads the
 * tokenizer of the model they serve as soon as one reports it, and prints one machine-read line
 * on stdout the first time it is ready (a healthy worker and a tokenizer):
 * `RADIXSERVE_ROUTER_READY {"port":N,"host":"..."}` (the launcher and the test harness wait for it).
 *
 * Without a healthy worker the router stays up: /livez answers 200, /readyz (and /health) 503,
 * and generation 503 with Retry-After, until a worker comes (or comes back).
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ClusterAuth, getLogger, setupTracing, shutdownTracing } from "@radixserve/core";
import type { FastifyInstance } from "fastify";
import { CoreTextCodec } from "./gateway/core-codec.js";
import type { RequestLimits } from "./gateway/request-limits.js";
import { buildGateway } from "./gateway/server.js";
import { ClusterRouting } from "./policies/cluster-routing.js";
import { DEFAULT_POLICY } from "./policies/registry.js";
import { WorkerPool } from "./workers/worker-pool.js";

/** --max-pending-requests: choices in flight over all workers before 429s (0 would be unlimited). */
export const DEFAULT_MAX_PENDING_REQUESTS = 1024;
/** --tokenizer-threads: one per core, at most 4 (tokenizing is a small share of serving). */
export const DEFAULT_TOKENIZER_THREADS = Math.min(4, Math.max(1, availableParallelism()));

export interface RouterOptions {
  /** `host:port` of each worker's gRPC server (the static set; may be empty with redisUrl). */
  workerUrls: string[];
  /** Routing policy of the unified (or PD decode) pick: `name[:knob=value,...]`. Default cache_aware. */
  policy?: string | undefined;
  /** PD mode: policy of the prefill pick. Default: `policy`. */
  prefillPolicy?: string | undefined;
  /** PD mode: policy of the decode pick. Default: `policy`. */
  decodePolicy?: string | undefined;
  /** Follow the workers registered in this Redis. */
  redisUrl?: string | undefined;
  /** Follow the workers' KV events and load reports on NATS. */
  natsUrl?: string | undefined;
  discoveryScanMs?: number | undefined;
  /** With maxPendingRequests: requests that may wait for a slot before a 429. Default 0. */
  queueSize?: number | undefined;
  /** Longest wait in that queue. Default 30 s. */
  queueTimeoutMs?: number | undefined;
  host: string;
  /** HTTP port; 0 picks a free one (reported on the READY line). */
  port: number;
  apiKey?: string | undefined;
  maxRequestBytes?: number | undefined;
  /** Choices in flight over all workers before 429s; 0 = unlimited. Default DEFAULT_MAX_PENDING_REQUESTS. */
  maxPendingRequests?: number | undefined;
  /** Size limits of one request. Default DEFAULT_LIMITS. */
  limits?: Partial<RequestLimits> | undefined;
  /** Tokenizer threads. Default DEFAULT_TOKENIZER_THREADS. */
  tokenizerThreads?: number | undefined;
  /** Tokenizer directory; default: the model path the first worker reports. */
  tokenizerPath?: string | undefined;
  /** /metrics needs the API key too. Default false. */
  metricsRequireKey?: boolean | undefined;
  pollIntervalMs?: number | undefined;
  /** Deadline of one generation request in ms; 0 = none. */
  requestTimeoutMs?: number | undefined;
  /** Retries of a choice on another worker before its first token (0..10). Default 2. */
  maxRetries?: number | undefined;
  /** First retry's backoff in ms, doubling per retry (jittered). Default 20. */
  retryBackoffMs?: number | undefined;
  /** Tool-call format (hermes, llama3, mistral); absent = read off the chat template. */
  toolCallParser?: string | undefined;
  /** How calls to workers authenticate: the cluster secret's token and/or mutual TLS. */
  clusterAuth?: ClusterAuth | undefined;
  /** OTLP/HTTP traces endpoint (--otlp-traces-endpoint); undefined = tracing off. */
  otlpTracesEndpoint?: string | undefined;
}

export interface RunningRouter {
  app: FastifyInstance;
  pool: WorkerPool;
  port: number;
  /** Resolves the first time a worker is healthy and the tokenizer is loaded. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** How often the router looks for a first worker (and its model) while not ready. */
const READY_POLL_MS = 200;
/** How often it says in the log that it is still waiting. */
const WAITING_LOG_MS = 30_000;

/** docs/openapi.json, found by walking up from this module (src/ under tsx, dist/ when built). */
export function loadOpenApi(): unknown {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "docs", "openapi.json");
    if (existsSync(candidate)) return JSON.parse(readFileSync(candidate, "utf8"));
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export async function startRouter(opts: RouterOptions): Promise<RunningRouter> {
  const log = getLogger("router");
  const cluster = new ClusterRouting({
    policy: opts.policy ?? DEFAULT_POLICY,
    prefillPolicy: opts.prefillPolicy,
    decodePolicy: opts.decodePolicy,
    workerUrls: opts.workerUrls,
    redisUrl: opts.redisUrl,
    natsUrl: opts.natsUrl,
    discoveryScanMs: opts.discoveryScanMs,
  });
  const pool = new WorkerPool(opts.workerUrls, {
    maxPendingRequests: opts.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS,
    queueSize: opts.queueSize,
    queueTimeoutMs: opts.queueTimeoutMs,
    pollIntervalMs: opts.pollIntervalMs,
    selector: cluster.selector,
    decodeSelector: cluster.decodeSelector,
    prefillSelector: cluster.prefillSelector,
    allowEmpty: opts.redisUrl !== undefined,
    reportedLoad: (address) => cluster.reportedLoad(address),
    clusterAuth: opts.clusterAuth,
  });
  pool.on("health", (address: string, healthy: boolean, reason: string | null) => {
    if (healthy) log.info({ worker: address }, "worker healthy");
    else log.warn({ worker: address, reason }, "worker unhealthy");
  });
  const codecOpts = { threads: opts.tokenizerThreads ?? DEFAULT_TOKENIZER_THREADS };
  let codec: CoreTextCodec | null = opts.tokenizerPath
    ? await CoreTextCodec.load(opts.tokenizerPath, codecOpts)
    : null;
  await pool.start();
  let stopped = false;
  let waitTimer: NodeJS.Timeout | null = null;
  try {
    await cluster.start(pool);
    const { app, metrics } = await buildGateway({
      pool,
      codec: () => codec,
      apiKey: opts.apiKey,
      metricsRequireKey: opts.metricsRequireKey,
      limits: opts.limits,
      maxRequestBytes: opts.maxRequestBytes,
      requestTimeoutMs: opts.requestTimeoutMs,
      toolCallParser: opts.toolCallParser,
      retry: {
        ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}),
        ...(opts.retryBackoffMs !== undefined ? { baseBackoffMs: opts.retryBackoffMs } : {}),
      },
      openapi: loadOpenApi(),
    });
    cluster.registerMetrics(metrics.registry);
    await app.listen({ host: opts.host, port: opts.port });
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : opts.port;
    setupTracing({
      endpoint: opts.otlpTracesEndpoint,
      serviceName: "radixserve-router",
      resource: { "service.instance.id": `${opts.host}:${port}` },
    });
    log.info({ host: opts.host, port, workers: opts.workerUrls }, "router listening");
    const ready = new Promise<void>((resolve, reject) => {
      const since = Date.now();
      let lastLog = since;
      const check = async (): Promise<void> => {
        if (stopped) return;
        try {
          const modelPath = pool.models()[0]?.modelPath;
          if (!codec && modelPath) codec = await CoreTextCodec.load(modelPath, codecOpts);
        } catch (err) {
          // A tokenizer that cannot be loaded will not load later either: the router cannot serve.
          reject(err);
          return;
        }
        if (codec && pool.healthyCount() > 0) return resolve();
        if (Date.now() - lastLog >= WAITING_LOG_MS) {
          lastLog = Date.now();
          const waited = Math.round((lastLog - since) / 1000);
          log.warn({ workers: pool.snapshot().length, waited_s: waited }, "no healthy worker yet");
        }
        waitTimer = setTimeout(() => void check(), READY_POLL_MS);
      };
      void check();
    });
    return {
      app,
      pool,
      port,
      ready,
      async close() {
        stopped = true;
        if (waitTimer) clearTimeout(waitTimer);
        await app.close();
        pool.stop();
        await cluster.stop();
        await codec?.close();
        await shutdownTracing();
      },
    };
  } catch (err) {
    stopped = true;
    pool.stop();
    await cluster.stop();
    await codec?.close();
    throw err;
  }
}
