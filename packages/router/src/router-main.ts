/**
 * The router process: connects to the workers, loads the tokenizer of the model they serve,
 * starts the HTTP gateway and prints one machine-read line on stdout when it is ready:
 * `RADIXSERVE_ROUTER_READY {"port":N,"host":"..."}` (the launcher and the test harness wait for it).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ClusterAuth, getLogger } from "@radixserve/core";
import type { FastifyInstance } from "fastify";
import { CoreTextCodec } from "./gateway/core-codec.js";
import { buildGateway } from "./gateway/server.js";
import { ClusterRouting } from "./policies/cluster-routing.js";
import { DEFAULT_POLICY } from "./policies/registry.js";
import { WorkerPool } from "./workers/worker-pool.js";

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
  /** 0 = unlimited. */
  maxPendingRequests?: number | undefined;
  /** Tokenizer directory; default: the model path the first worker reports. */
  tokenizerPath?: string | undefined;
  /** How long to wait for a first healthy worker at start-up. Default 120 s. */
  workerWaitMs?: number | undefined;
  pollIntervalMs?: number | undefined;
  /** Deadline of one generation request in ms; 0 = none. */
  requestTimeoutMs?: number | undefined;
  /** Retries of a choice on another worker before its first token (0..10). Default 2. */
  maxRetries?: number | undefined;
  /** First retry's backoff in ms, doubling per retry (jittered). Default 20. */
  retryBackoffMs?: number | undefined;
  /** How calls to workers authenticate: the cluster secret's token and/or mutual TLS. */
  clusterAuth?: ClusterAuth | undefined;
}

export interface RunningRouter {
  app: FastifyInstance;
  pool: WorkerPool;
  port: number;
  close(): Promise<void>;
}

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
    maxPendingRequests: opts.maxPendingRequests,
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
  await pool.start();
  try {
    await cluster.start(pool);
    await pool.waitHealthy(opts.workerWaitMs ?? 120_000);
    const tokenizerPath = opts.tokenizerPath ?? pool.models()[0]?.modelPath;
    if (!tokenizerPath) throw new Error("no worker reported a model path; pass --tokenizer-path");
    const codec = await CoreTextCodec.load(tokenizerPath);
    const { app, metrics } = await buildGateway({
      pool,
      codec,
      apiKey: opts.apiKey,
      maxRequestBytes: opts.maxRequestBytes,
      requestTimeoutMs: opts.requestTimeoutMs,
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
    log.info({ host: opts.host, port, workers: opts.workerUrls }, "router listening");
    return {
      app,
      pool,
      port,
      async close() {
        await app.close();
        pool.stop();
        await cluster.stop();
      },
    };
  } catch (err) {
    pool.stop();
    await cluster.stop();
    throw err;
  }
}
