/**
 * A worker process: engine + gRPC server + /metrics and /health, in one of three modes:
 * unified (continuous-batching scheduler: prefill and decode here), decode (the same scheduler,
 * plus KV transfers from paired prefill workers: disagg/decode-mode.ts) or prefill (the
 * PrefillScheduler of ./disagg/prefill serving the PrefillService). Lifecycle: STARTING (loading the engine) -> SERVING -> DRAINING (SIGTERM:
 * new requests get `draining`, queued and running ones finish) -> stopped.
 */
import * as grpc from "@grpc/grpc-js";
import {
  clusterAuthServerOptions,
  clusterServerCredentials,
  getLogger,
  isDebugEnabled,
  loadGenerationConfig,
  loadPrefillService,
  loadWorkerService,
  type RadixCache,
  ServingMetrics,
  SpeculativeMetrics,
  setupTracing,
  shutdownTracing,
  startObservabilityServer,
} from "@radixserve/core";
import { type Engine, EngineError } from "@radixserve/engine-native";
import type { Registry } from "prom-client";
import { type ModeLoad, startClusterAgent } from "./cluster-agent.js";
import { WORKER_DEFAULTS, type WorkerConfig } from "./config.js";
import { setUpDecodeMode } from "./disagg/decode/decode-mode.js";
import { chooseKvTransport, shmMedium } from "./disagg/decode/transport-choice.js";
import { createPrefillServer } from "./disagg/prefill/index.js";
import { loadEngine } from "./engine-loader.js";
import { grammarCompiler } from "./grammar.js";
import { createWorkerHandlers } from "./grpc-service.js";
import type { WorkerStatus } from "./load.js";
import { defaultServedModelName, modelHashSeed } from "./model-identity.js";
import { EngineLoop, Scheduler, StepMetrics, setSinkErrorHandler } from "./scheduler/index.js";
import { TokenRate } from "./token-rate.js";

const log = getLogger("worker");
const cacheLog = getLogger("cache");

/** How often an idle worker checks the cache/allocator invariants (debug category "cache" or "scheduler"). */
const INTEGRITY_CHECK_MS = 2000;

export interface WorkerHandle {
  grpcPort: number;
  metricsPort: number;
  /** The continuous-batching scheduler (null in prefill mode, which runs a PrefillScheduler). */
  scheduler: Scheduler | null;
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
  // A transport that cannot work here (rdma, a missing /dev/shm) fails before the model loads.
  // (A prefill worker only checks the name: it sends over whatever each decode worker offers.)
  const transport =
    config.disaggMode === "decode" || (config.disaggMode === "prefill" && config.kvTransport === "rdma")
      ? await chooseKvTransport(config)
      : null;
  // Decode with shm: the KV pool itself lives in /dev/shm, so prefill workers write straight into it.
  const shm = config.disaggMode === "decode" ? shmMedium(transport) : null;
  const poolSpec = shm && !config.disableShmDirect && config.tp === 1 ? shm.poolSpec() : undefined;

  let status: WorkerStatus = "STATUS_STARTING";
  const engineOptions = {
    modelPath: config.modelPath,
    blockSize: config.blockSize,
    kvCacheBlocks: config.kvCacheBlocks,
    memFractionStatic: config.memFractionStatic,
    threads: config.threads,
    tpSize: config.tp,
    ...(config.quantization ? { quantization: config.quantization } : {}),
  };
  let engine: Engine;
  if (poolSpec) {
    try {
      engine = await loadEngine({ ...engineOptions, kvPoolShmPath: poolSpec });
    } catch (err) {
      // The options (a pool in shared memory) cannot work here; a broken model fails the next load too.
      const code = err instanceof EngineError ? err.code : null;
      if (code !== "kv_pool_shared_failed" && code !== "options_invalid") throw err;
      log.warn(
        { err: (err as Error).message },
        "cannot keep the KV pool in shared memory; shm transfers copy through per-transfer files",
      );
      engine = await loadEngine(engineOptions);
    }
    const { kvPoolPath, numBlocks, bytesPerBlock } = engine.info;
    if (kvPoolPath) shm!.attachPool(poolSpec, kvPoolPath, numBlocks, bytesPerBlock);
  } else engine = await loadEngine(engineOptions);
  const info = engine.info;
  const gen = await loadGenerationConfig(config.modelPath);
  const eosTokenIds = [...new Set([...gen.stopTokenIds, ...(info.eosTokenIds ?? [])])].sort((a, b) => a - b);
  const hashSeed = await modelHashSeed(config.modelPath);
  const maxContextLength =
    config.contextLength > 0
      ? Math.min(config.contextLength, info.maxPositionEmbeddings)
      : info.maxPositionEmbeddings;

  const schedulerConfig = {
    blockSize: info.blockSize,
    numBlocks: info.numBlocks,
    maxRunningRequests: config.maxRunningRequests,
    maxQueuedRequests: config.maxQueuedRequests,
    chunkedPrefillSize: config.chunkedPrefillSize,
    maxPrefillTokens: config.maxPrefillTokens,
    shortPrefillTokens: config.shortPrefillTokens,
    maxContextLength,
    vocabSize: info.vocabSize,
    eosTokenIds,
    enablePrefixCache: !config.disableRadixCache,
    hashSeed,
    ...(config.speculative ? { speculative: config.speculative } : {}),
  };
  const modelInfo = {
    modelId: config.servedModelName ?? defaultServedModelName(config.modelPath),
    modelPath: config.modelPath,
    maxContextLength,
    vocabSize: info.vocabSize,
    blockSize: info.blockSize,
    tpSize: config.tp,
    disaggMode: config.disaggMode,
    eosTokenIds,
    blockHashSeed: hashSeed,
  };
  const grammar = await grammarCompiler(config.modelPath, info.vocabSize, eosTokenIds);
  setSinkErrorHandler((requestId, err) => log.error({ requestId, err }, "writing a request's event failed"));
  // With a cluster secret every call of every service here must carry its token.
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    ...clusterAuthServerOptions(config.clusterSecret),
  });
  const { service } = loadWorkerService();

  // The mode-specific part: what runs the engine, and what answers the gRPC calls.
  let mode: ModeParts;
  if (config.disaggMode === "prefill") {
    const p = createPrefillServer({
      engine,
      schedulerConfig,
      modelInfo,
      status: () => status,
      sessionTimeoutMs: 2 * config.kvTransferTimeoutMs,
      sendWhenDone: config.kvSendWhenDone,
      ...(config.clusterSecret ? { kvAuthKey: config.clusterSecret.kvAuthKey } : {}),
      grammar,
    });
    server.addService(service, p.workerHandlers);
    server.addService(loadPrefillService().service, p.prefillHandlers);
    mode = {
      registry: p.metrics.registry,
      idle: () => p.idle(),
      stats: () => p.scheduler.stats(),
      cache: p.scheduler.kv.cache,
      tokensPerS: () => 0,
      integrity: () => (p.idle() ? p.scheduler.checkIntegrity() : []),
      drain: () => p.drain(),
      stop: () => p.stop(),
      scheduler: null,
    };
  } else {
    const scheduler = new Scheduler(schedulerConfig);
    const rate = new TokenRate();
    const metrics = new ServingMetrics(
      config.disaggMode,
      () => {
        const s = scheduler.stats();
        return { ...s, kvBlocksFree: s.kvBlocksFree + s.kvBlocksEvictable };
      },
      { modelName: modelInfo.modelId },
    );
    if (scheduler.speculator) {
      const spec = new SpeculativeMetrics(metrics.registry);
      scheduler.speculator.onVerify = (proposed, accepted) => spec.observe(proposed, accepted);
    }
    const decode =
      config.disaggMode === "decode"
        ? await setUpDecodeMode(config, scheduler, engine, metrics.registry, hashSeed, transport!)
        : null;
    const stepMetrics = new StepMetrics(metrics.registry);
    const loop = new EngineLoop(engine, scheduler, getLogger("scheduler"), {
      onStep: (batch, seconds, timing) => {
        rate.add(batch.seqs.filter((_, i) => batch.steps[i]!.sample).length);
        if (timing) stepMetrics.observe(batch, seconds, timing);
        decode?.onStep();
      },
    });
    loop.start();
    // Requests in their KV transfer hold reserved blocks and will decode here: the router's load
    // view counts them (waiting for blocks = queued; transferring = running).
    const stats = () => {
      const st = scheduler.stats();
      if (!decode) return st;
      const waiting = decode.reserver.queued;
      return {
        ...st,
        running: st.running + Math.max(0, decode.transfers() - waiting),
        queued: st.queued + waiting,
      };
    };
    const handlers = createWorkerHandlers({
      scheduler,
      stats,
      metrics,
      disaggMode: config.disaggMode,
      status: () => status,
      tokensPerSecond: () => rate.perSecond(),
      ...(decode ? { kvBytesMoved: () => decode.metrics.bytesMoved } : {}),
      modelInfo,
      maxUnreadTokens: config.maxUnreadTokens,
      grammar,
      ...(decode ? { route: decode.route } : {}),
    });
    if (decode) {
      const abort = handlers.Abort;
      handlers.Abort = (call, callback) => {
        if (decode.abortTransfer(call.request.requestId)) callback(null, { found: true });
        else abort(call, callback);
      };
    }
    server.addService(service, handlers);
    const quiet = () =>
      scheduler.idle &&
      !loop.busy &&
      (decode?.transfers() ?? 0) === 0 &&
      (decode?.reserver.outstanding ?? 0) === 0;
    mode = {
      registry: metrics.registry,
      idle: quiet,
      stats,
      cache: scheduler.kv.cache,
      tokensPerS: () => rate.perSecond(),
      integrity: () => (quiet() ? scheduler.checkIntegrity() : []),
      drain: async () => {
        scheduler.drain();
        while (!quiet()) await new Promise<void>((r) => setTimeout(r, 20));
        decode?.close();
        await loop.stop();
      },
      stop: async () => {
        scheduler.drain();
        decode?.close();
        await loop.stop();
      },
      scheduler,
    };
  }

  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${config.host}:${config.port}`,
      clusterServerCredentials(config.clusterTls),
      (err, port) =>
        err
          ? reject(new Error(`cannot listen on ${config.host}:${config.port}: ${err.message}`))
          : resolve(port),
    ),
  );
  const obs = await startObservabilityServer({
    host: config.host,
    port: config.metricsPort,
    registry: mode.registry,
    health: () => ({ ok: status === "STATUS_SERVING", body: { status, disaggMode: config.disaggMode } }),
  });

  setupTracing({
    endpoint: config.otlpTracesEndpoint,
    serviceName: `radixserve-${config.disaggMode}`,
    resource: {
      "service.instance.id": config.advertiseAddress ?? `${config.host}:${grpcPort}`,
      model_name: modelInfo.modelId,
    },
  });

  // Cluster membership (--redis-url / --nats-url): register, publish KV events and load.
  const agent = await startClusterAgent(config, grpcPort, modelInfo, mode.cache, mode.stats, mode.tokensPerS);

  const integrityTimer = setInterval(() => {
    if (!(isDebugEnabled("cache") || isDebugEnabled("scheduler"))) return;
    if (!mode.idle()) return;
    const problems = mode.integrity();
    if (problems.length > 0) cacheLog.error({ problems }, "KV cache integrity check failed");
    else cacheLog.debug(mode.stats(), "KV cache integrity check passed");
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
      disaggMode: config.disaggMode,
      simd: info.simd,
      threads: info.threads,
    },
    "worker ready",
  );

  let stopped: Promise<void> | null = null;
  const handle: WorkerHandle = {
    grpcPort,
    metricsPort: obs.port,
    scheduler: mode.scheduler,
    engine,
    drain() {
      stopped ??= (async () => {
        status = "STATUS_DRAINING";
        await agent?.deregister(); // routers stop picking this worker before it stops admitting
        log.info(mode.stats(), "draining: no new requests; finishing queued and running ones");
        await mode.drain();
        clearInterval(integrityTimer);
        await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
        await obs.close();
        await agent?.stop();
        engine.free();
        await shutdownTracing();
        log.info("drained");
      })();
      return stopped;
    },
    stop() {
      stopped ??= (async () => {
        status = "STATUS_DRAINING";
        server.forceShutdown();
        await mode.stop();
        await agent?.stop();
        clearInterval(integrityTimer);
        await obs.close();
        engine.free();
      })();
      return stopped;
    },
  };
  return handle;
}

/** What differs between unified/decode (Scheduler + EngineLoop) and prefill (PrefillScheduler). */
interface ModeParts {
  registry: Registry;
  idle(): boolean;
  stats(): ModeLoad;
  /** The prefix cache whose stored / removed blocks are published as KV events. */
  cache: RadixCache;
  tokensPerS(): number;
  integrity(): string[];
  drain(): Promise<void>;
  stop(): Promise<void>;
  scheduler: Scheduler | null;
}
