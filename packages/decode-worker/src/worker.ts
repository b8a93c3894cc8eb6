/**
 * A worker process in unified mode: engine + continuous-batching scheduler + gRPC server +
 * /metrics and /health. Lifecycle: STARTING (loading the engine) -> SERVING -> DRAINING (SIGTERM:
 * new requests get `draining`, queued and running ones finish) -> stopped.
 */
import * as grpc from "@grpc/grpc-js";
import {
  EngineLoop,
  getLogger,
  isDebugEnabled,
  loadGenerationConfig,
  loadWorkerService,
  RadixServeError,
  Scheduler,
  ServingMetrics,
  setSinkErrorHandler,
  startObservabilityServer,
} from "@radixserve/core";
import type { Engine } from "@radixserve/engine-native";
import { WORKER_DEFAULTS, type WorkerConfig } from "./config.js";
import { loadEngine } from "./engine-loader.js";
import { createWorkerHandlers } from "./grpc-service.js";
import { defaultServedModelName, modelHashSeed } from "./model-identity.js";
import { TokenRate } from "./token-rate.js";

const log = getLogger("worker");
const cacheLog = getLogger("cache");

/** How often an idle worker checks the cache/allocator invariants (debug category "cache" or "scheduler"). */
const INTEGRITY_CHECK_MS = 2000;

export interface WorkerHandle {
  grpcPort: number;
  metricsPort: number;
  scheduler: Scheduler;
  engine: Engine;
  /** Stops admitting, waits for queued + running requests, then stops everything. */
  drain(): Promise<void>;
  /** Stops now: aborts whatever runs, closes servers, frees the engine. */
  stop(): Promise<void>;
}

export async function startWorker(
  input: Partial<WorkerConfig> & Pick<WorkerConfig, "modelPath">,
): Promise<WorkerHandle> {
  const config: WorkerConfig = { ...WORKER_DEFAULTS, disaggMode: "unified", ...input };
  if (config.disaggMode !== "unified")
    throw new RadixServeError(
      "not_implemented",
      `--disagg-mode ${config.disaggMode} is not implemented yet (issue 4); use --disagg-mode unified`,
    );
  if (config.tp !== 1)
    throw new RadixServeError(
      "not_implemented",
      `--tp ${config.tp} is not supported yet: only --tp 1 (tensor parallelism comes later)`,
    );

  let status: "STATUS_SERVING" | "STATUS_DRAINING" | "STATUS_STARTING" = "STATUS_STARTING";
  const engine = await loadEngine({
    modelPath: config.modelPath,
    blockSize: config.blockSize,
    kvCacheBlocks: config.kvCacheBlocks,
    memFractionStatic: config.memFractionStatic,
    threads: config.threads,
    tpSize: config.tp,
  });
  const info = engine.info;
  const gen = await loadGenerationConfig(config.modelPath);
  const eosTokenIds = [...new Set([...gen.stopTokenIds, ...(info.eosTokenIds ?? [])])].sort((a, b) => a - b);
  const hashSeed = await modelHashSeed(config.modelPath);
  const maxContextLength =
    config.contextLength > 0
      ? Math.min(config.contextLength, info.maxPositionEmbeddings)
      : info.maxPositionEmbeddings;

  const scheduler = new Scheduler({
    blockSize: info.blockSize,
    numBlocks: info.numBlocks,
    maxRunningRequests: config.maxRunningRequests,
    maxQueuedRequests: config.maxQueuedRequests,
    chunkedPrefillSize: config.chunkedPrefillSize,
    maxPrefillTokens: config.maxPrefillTokens,
    maxContextLength,
    vocabSize: info.vocabSize,
    eosTokenIds,
    enablePrefixCache: !config.disableRadixCache,
    hashSeed,
  });
  setSinkErrorHandler((requestId, err) => log.error({ requestId, err }, "writing a request's event failed"));
  const rate = new TokenRate();
  const metrics = new ServingMetrics("unified", () => {
    const s = scheduler.stats();
    return { ...s, kvBlocksFree: s.kvBlocksFree + s.kvBlocksEvictable };
  });
  const loop = new EngineLoop(engine, scheduler, getLogger("scheduler"), {
    onStep: (batch) => rate.add(batch.seqs.filter((_, i) => batch.steps[i]!.sample).length),
  });
  loop.start();

  const { service } = loadWorkerService();
  const server = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
  server.addService(
    service,
    createWorkerHandlers({
      scheduler,
      metrics,
      disaggMode: config.disaggMode,
      status: () => status,
      tokensPerSecond: () => rate.perSecond(),
      modelInfo: {
        modelId: config.servedModelName ?? defaultServedModelName(config.modelPath),
        modelPath: config.modelPath,
        maxContextLength,
        vocabSize: info.vocabSize,
        blockSize: info.blockSize,
        tpSize: config.tp,
        disaggMode: config.disaggMode,
        eosTokenIds,
        blockHashSeed: hashSeed,
      },
    }),
  );
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host}:${config.port}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err
        ? reject(new Error(`cannot listen on ${config.host}:${config.port}: ${err.message}`))
        : resolve(port),
    ),
  );
  const obs = await startObservabilityServer({
    host: config.host,
    port: config.metricsPort,
    registry: metrics.registry,
    health: () => ({ ok: status === "STATUS_SERVING", body: { status, disaggMode: config.disaggMode } }),
  });

  const integrityTimer = setInterval(() => {
    if (!(isDebugEnabled("cache") || isDebugEnabled("scheduler"))) return;
    if (!scheduler.idle || loop.busy) return;
    const problems = scheduler.checkIntegrity();
    if (problems.length > 0) cacheLog.error({ problems }, "KV cache integrity check failed");
    else cacheLog.debug(scheduler.stats(), "KV cache integrity check passed");
  }, INTEGRITY_CHECK_MS);
  integrityTimer.unref();

  status = "STATUS_SERVING";
  log.info(
    {
      grpcPort,
      metricsPort: obs.port,
      model: config.modelPath,
      numBlocks: info.numBlocks,
      blockSize: info.blockSize,
      maxContextLength,
      radixCache: !config.disableRadixCache,
      simd: info.simd,
      threads: info.threads,
    },
    "worker ready",
  );

  let stopped: Promise<void> | null = null;
  const shutdown = async (): Promise<void> => {
    clearInterval(integrityTimer);
    await loop.stop();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await obs.close();
    engine.free();
  };
  const handle: WorkerHandle = {
    grpcPort,
    metricsPort: obs.port,
    scheduler,
    engine,
    drain() {
      stopped ??= (async () => {
        status = "STATUS_DRAINING";
        scheduler.drain();
        log.info(scheduler.stats(), "draining: no new requests; finishing queued and running ones");
        while (!scheduler.idle) await new Promise<void>((r) => setTimeout(r, 20));
        await shutdown();
        log.info("drained");
      })();
      return stopped;
    },
    stop() {
      stopped ??= (async () => {
        status = "STATUS_DRAINING";
        scheduler.drain();
        server.forceShutdown();
        await loop.stop();
        clearInterval(integrityTimer);
        await obs.close();
        engine.free();
      })();
      return stopped;
    },
  };
  return handle;
}
