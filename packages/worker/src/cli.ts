/**
 * `radixserve worker ...`: the worker process's command line (SGLang's flag names where one exists).
 * Prints exactly one `RADIXSERVE_WORKER_READY {"grpcPort":N,"metricsPort":M}` line on stdout when
 * it serves; logs go to stderr. SIGTERM/SIGINT drain (a second signal exits at once).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CLUSTER_SECRET_ENV,
  ClusterTls,
  loadClusterSecret,
  otlpEndpointProblem,
  parseWorkerDisaggMode,
  resolveModelPath,
  setLogLevel,
  WORKER_READY_PREFIX,
} from "@radixserve/core";
import { findGgufFile, QUANT_DTYPES, type QuantDtype } from "@radixserve/engine-native";
import { Command, InvalidArgumentError } from "commander";
import { type KvTransportChoice, WORKER_DEFAULTS, type WorkerConfig } from "./config.js";
import { SPECULATIVE_ALGORITHMS, SPECULATIVE_DEFAULTS, type SpeculativeConfig } from "./scheduler/index.js";
import { startWorker } from "./worker.js";

function int(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function fraction(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError("must be a number in (0, 1]");
  return n;
}

const KV_TRANSPORTS: readonly KvTransportChoice[] = ["auto", "grpc", "shm", "tcp", "rdma"];

function kvTransportChoice(v: string): KvTransportChoice {
  if (!(KV_TRANSPORTS as readonly string[]).includes(v))
    throw new Error(`--kv-transport must be one of ${KV_TRANSPORTS.join(", ")}, got '${v}'`);
  return v as KvTransportChoice;
}

/** Builds the commander program (exported for tests and for the launcher's `worker` subcommand). */
export function buildWorkerCommand(): Command {
  return new Command("radixserve-worker")
    .description("RadixServe worker: native engine + continuous batching + radix prefix cache, over gRPC")
    .option("--disagg-mode <mode>", "unified | prefill | decode (pd is for `radixserve start`)", "unified")
    .option(
      "--model-path <path>",
      "Hugging Face model directory, .gguf file (or a directory holding one), or Hub id org/name (default: SmolLM2-135M-Instruct, fetched once into the cache)",
    )
    .option("--revision <rev>", "Hub branch, tag or commit for --model-path org/name (default main)")
    .option("--cache-dir <dir>", "model cache (default $RADIXSERVE_CACHE or ~/.cache/radixserve)")
    .option(
      "--quantization <type>",
      `quantize an HF checkpoint's weights at load time: ${QUANT_DTYPES.join(" | ")} (projections to the type, embedding and LM head to q8_0)`,
    )
    .option("--host <host>", "address to listen on", WORKER_DEFAULTS.host)
    .option("--port <port>", "gRPC port (0 = pick a free port)", int("--port", 0), WORKER_DEFAULTS.port)
    .option(
      "--metrics-port <port>",
      "HTTP /metrics and /health port (0 = free port)",
      int("--metrics-port", 0),
      0,
    )
    .option(
      "--tp <n>",
      "tensor-parallel ranks inside the engine (must divide the heads, KV heads, intermediate size)",
      int("--tp", 1),
      WORKER_DEFAULTS.tp,
    )
    .option("--mem-fraction-static <f>", "fraction of memory for weights + KV pool", fraction)
    .option(
      "--kv-cache-blocks <n>",
      "KV pool size in blocks (overrides --mem-fraction-static)",
      int("--kv-cache-blocks", 1),
    )
    .option("--block-size <n>", "tokens per KV block", int("--block-size", 1), WORKER_DEFAULTS.blockSize)
    .option(
      "--max-running-requests <n>",
      "most requests in a batch",
      int("--max-running-requests", 1),
      WORKER_DEFAULTS.maxRunningRequests,
    )
    .option(
      "--max-queued-requests <n>",
      "most waiting requests before queue_full",
      int("--max-queued-requests", 1),
      WORKER_DEFAULTS.maxQueuedRequests,
    )
    .option(
      "--max-unread-tokens <n>",
      "most token events a request's reader may leave unsent in the worker before the request is aborted with client_too_slow",
      int("--max-unread-tokens", 1),
      WORKER_DEFAULTS.maxUnreadTokens,
    )
    .option(
      "--chunked-prefill-size <n>",
      "most prefill tokens of one request per step (<= 0 disables)",
      int("--chunked-prefill-size", -1),
      WORKER_DEFAULTS.chunkedPrefillSize,
    )
    .option(
      "--max-prefill-tokens <n>",
      "most prefill tokens per step",
      int("--max-prefill-tokens", 1),
      WORKER_DEFAULTS.maxPrefillTokens,
    )
    .option(
      "--short-prefill-tokens <n>",
      "prefill mode: prompts with at most this many tokens left get a step of their own instead of waiting out a long prompt's chunk (0: FCFS only)",
      int("--short-prefill-tokens", 0),
      WORKER_DEFAULTS.shortPrefillTokens,
    )
    .option(
      "--context-length <n>",
      "cap on the model's context length (0 = the model's)",
      int("--context-length", 0),
      0,
    )
    .option("--threads <n>", "engine compute threads (default: all cores)", int("--threads", 1))
    .option("--served-model-name <name>", "model id reported to clients (default: the directory name)")
    .option("--log-level <level>", "trace | debug | info | warn | error", WORKER_DEFAULTS.logLevel)
    .option("--disable-radix-cache", "no prefix reuse", false)
    .option(
      "--speculative-algorithm <name>",
      `speculative decoding in unified and decode mode: ${SPECULATIVE_ALGORITHMS.join(" | ")} (prompt lookup)`,
    )
    .option(
      "--speculative-num-draft-tokens <n>",
      `drafted tokens verified per request per step (1..16, default ${SPECULATIVE_DEFAULTS.numDraftTokens})`,
      int("--speculative-num-draft-tokens", 1),
    )
    .option(
      "--speculative-max-batch-size <n>",
      `no drafting in steps with more decoding requests (default ${SPECULATIVE_DEFAULTS.maxBatchSize})`,
      int("--speculative-max-batch-size", 1),
    )
    .option(
      "--speculative-model <path>",
      "draft model (not built: refused; use --speculative-algorithm ngram)",
    )
    .option(
      "--kv-transport <name>",
      "KV transfer data plane: auto (offers shm and tcp; each prefill worker takes shm on this host, else tcp, else inline) | grpc | shm | tcp | rdma",
      WORKER_DEFAULTS.kvTransport,
    )
    .option("--disable-shm-transport", "with --kv-transport auto: offer tcp only, never shared memory", false)
    .option(
      "--disable-shm-direct",
      "decode with shm: keep the KV pool private (transfers copy through a /dev/shm file) instead of letting prefill workers write straight into it",
      false,
    )
    .option(
      "--disagg-prefill-threshold <tokens>",
      "decode mode: prefill locally when the uncached prompt part is shorter than this",
      int("--disagg-prefill-threshold", 0),
      WORKER_DEFAULTS.disaggPrefillThreshold,
    )
    .option(
      "--kv-reserve-timeout-ms <ms>",
      "decode mode: longest wait for KV blocks to reserve",
      int("--kv-reserve-timeout-ms", 1),
      WORKER_DEFAULTS.kvReserveTimeoutMs,
    )
    .option(
      "--kv-transfer-timeout-ms <ms>",
      "decode mode: deadline from the prefill request to every KV block and the first token",
      int("--kv-transfer-timeout-ms", 1),
      WORKER_DEFAULTS.kvTransferTimeoutMs,
    )
    .option(
      "--kv-window-chunks <n>",
      "most unacked KV chunks in flight per transfer",
      int("--kv-window-chunks", 1),
      WORKER_DEFAULTS.kvWindowChunks,
    )
    .option(
      "--kv-chunk-bytes <n>",
      "target bytes per KV chunk for grpc and two-copy shm (tcp asks for 64 MiB, direct shm 256 MiB)",
      int("--kv-chunk-bytes", 1),
      WORKER_DEFAULTS.kvChunkBytes,
    )
    .option("--kv-verify-imports", "decode mode: read imported KV back and compare checksums", false)
    .option("--redis-url <url>", "register in Redis for discovery (redis://host:port)")
    .option("--nats-url <servers>", "publish KV events and load reports on NATS (host:port[,...])")
    .option("--advertise-address <host:port>", "address routers dial (default: --host and the gRPC port)")
    .option(
      "--discovery-ttl-ms <ms>",
      "Redis registration TTL (renewed every third)",
      int("--discovery-ttl-ms", 500),
      WORKER_DEFAULTS.discoveryTtlMs,
    )
    .option(
      "--kv-advertise-host <host>",
      "decode mode, tcp transport: the host prefill workers dial (default: --host, or the hostname for 0.0.0.0)",
    )
    .option(
      "--otlp-traces-endpoint <url>",
      "send OpenTelemetry spans (OTLP/HTTP JSON) to this URL, e.g. http://otel-collector:4318/v1/traces (default: off)",
      (v: string) => {
        const problem = otlpEndpointProblem(v);
        if (problem) throw new InvalidArgumentError(problem);
        return v;
      },
    )
    .option(
      "--kv-port <port>",
      "decode mode, tcp/auto transport: the KV data plane's port (0 = a free port)",
      int("--kv-port", 0),
      WORKER_DEFAULTS.kvPort,
    )
    .option(
      "--cluster-secret-file <path>",
      `file holding the cluster secret (>= 16 bytes) shared with the router and the other workers: gRPC calls must carry it, KV tcp connections must pass its handshake (also $${CLUSTER_SECRET_ENV})`,
    )
    .option(
      "--tls-cert <file>",
      "mutual TLS for gRPC: this worker's certificate chain (PEM); with --tls-key and --tls-ca",
    )
    .option("--tls-key <file>", "mutual TLS: this worker's private key (PEM)")
    .option(
      "--tls-ca <file>",
      "mutual TLS: the cluster CA (PEM); callers must present a certificate it signed, and this worker verifies prefill workers' with it",
    )
    .option(
      "--kv-send-when-done",
      "prefill mode: send KV only after the whole prompt (no overlap; benchmarks)",
      false,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stderr.write(s), writeErr: (s) => process.stderr.write(s) });
}

function quantization(v: string): QuantDtype {
  if (!QUANT_DTYPES.includes(v as QuantDtype))
    throw new Error(`--quantization must be one of ${QUANT_DTYPES.join(", ")}, got '${v}'`);
  return v as QuantDtype;
}

/** Parses argv (without node and script) into a WorkerConfig; throws a clear Error on bad flags. */
export function parseWorkerArgs(argv: string[]): WorkerConfig {
  const cmd = buildWorkerCommand();
  cmd.parse(argv, { from: "user" });
  const o = cmd.opts();
  const mode = parseWorkerDisaggMode(String(o["disaggMode"]));
  return {
    disaggMode: mode,
    modelPath: o["modelPath"] === undefined ? "" : String(o["modelPath"]),
    ...(o["revision"] !== undefined ? { revision: String(o["revision"]) } : {}),
    ...(o["cacheDir"] !== undefined ? { cacheDir: String(o["cacheDir"]) } : {}),
    host: String(o["host"]),
    port: o["port"] as number,
    metricsPort: o["metricsPort"] as number,
    tp: o["tp"] as number,
    memFractionStatic: o["memFractionStatic"] as number | undefined,
    kvCacheBlocks: o["kvCacheBlocks"] as number | undefined,
    blockSize: o["blockSize"] as number,
    maxRunningRequests: o["maxRunningRequests"] as number,
    maxQueuedRequests: o["maxQueuedRequests"] as number,
    maxUnreadTokens: o["maxUnreadTokens"] as number,
    chunkedPrefillSize: o["chunkedPrefillSize"] as number,
    maxPrefillTokens: o["maxPrefillTokens"] as number,
    shortPrefillTokens: o["shortPrefillTokens"] as number,
    contextLength: o["contextLength"] as number,
    threads: o["threads"] as number | undefined,
    ...(o["quantization"] !== undefined ? { quantization: quantization(String(o["quantization"])) } : {}),
    servedModelName: o["servedModelName"] as string | undefined,
    logLevel: String(o["logLevel"]),
    disableRadixCache: Boolean(o["disableRadixCache"]),
    ...speculativeConfig(o, mode),
    kvTransport: kvTransportChoice(String(o["kvTransport"])),
    disableShmTransport: Boolean(o["disableShmTransport"]),
    disableShmDirect: Boolean(o["disableShmDirect"]),
    disaggPrefillThreshold: o["disaggPrefillThreshold"] as number,
    kvReserveTimeoutMs: o["kvReserveTimeoutMs"] as number,
    kvTransferTimeoutMs: o["kvTransferTimeoutMs"] as number,
    kvWindowChunks: o["kvWindowChunks"] as number,
    kvChunkBytes: o["kvChunkBytes"] as number,
    kvVerifyImports: Boolean(o["kvVerifyImports"]),
    redisUrl: o["redisUrl"] as string | undefined,
    natsUrl: o["natsUrl"] as string | undefined,
    advertiseAddress: o["advertiseAddress"] as string | undefined,
    discoveryTtlMs: o["discoveryTtlMs"] as number,
    kvSendWhenDone: Boolean(o["kvSendWhenDone"]),
    ...(o["kvAdvertiseHost"] ? { kvAdvertiseHost: String(o["kvAdvertiseHost"]) } : {}),
    kvPort: checkKvPort(o["kvPort"] as number, mode, String(o["kvTransport"])),
    clusterSecret: loadClusterSecret(o["clusterSecretFile"] as string | undefined),
    clusterTls: ClusterTls.load({
      cert: o["tlsCert"] as string | undefined,
      key: o["tlsKey"] as string | undefined,
      ca: o["tlsCa"] as string | undefined,
    }),
    ...(o["otlpTracesEndpoint"] ? { otlpTracesEndpoint: String(o["otlpTracesEndpoint"]) } : {}),
  };
}

/** The --speculative-* flags: refused where no decode loop runs, or when one is given without the algorithm. */
function speculativeConfig(o: Record<string, unknown>, mode: string): { speculative?: SpeculativeConfig } {
  if (o["speculativeModel"] !== undefined)
    throw new Error(
      "--speculative-model (a draft model) is not supported by this build; --speculative-algorithm ngram drafts without one",
    );
  const algorithm = o["speculativeAlgorithm"] as string | undefined;
  const k = o["speculativeNumDraftTokens"] as number | undefined;
  const maxBatch = o["speculativeMaxBatchSize"] as number | undefined;
  if (algorithm === undefined) {
    if (k !== undefined || maxBatch !== undefined)
      throw new Error(
        `${k !== undefined ? "--speculative-num-draft-tokens" : "--speculative-max-batch-size"} needs --speculative-algorithm`,
      );
    return {};
  }
  if (!(SPECULATIVE_ALGORITHMS as readonly string[]).includes(algorithm))
    throw new Error(
      `--speculative-algorithm must be one of ${SPECULATIVE_ALGORITHMS.join(", ")}, got '${algorithm}'`,
    );
  if (mode === "prefill")
    throw new Error(
      "--speculative-algorithm applies to --disagg-mode unified or decode (a prefill worker samples one token)",
    );
  if (k !== undefined && k > 16) throw new Error(`--speculative-num-draft-tokens must be 1..16, got ${k}`);
  return {
    speculative: {
      algorithm: algorithm as SpeculativeConfig["algorithm"],
      numDraftTokens: k ?? SPECULATIVE_DEFAULTS.numDraftTokens,
      maxBatchSize: maxBatch ?? SPECULATIVE_DEFAULTS.maxBatchSize,
    },
  };
}

/** --kv-port only means something where a tcp listener runs: refuse it elsewhere. */
function checkKvPort(port: number, mode: string, transport: string): number {
  if (port > 65535) throw new Error(`--kv-port must be 0..65535, got ${port}`);
  if (port === 0) return 0;
  if (mode !== "decode") throw new Error("--kv-port applies to --disagg-mode decode (its KV data plane)");
  if (transport !== "tcp" && transport !== "auto")
    throw new Error(`--kv-port needs --kv-transport tcp or auto (got ${transport}: no tcp listener)`);
  return port;
}

/**
 * Runs a worker until it is drained. Returns the process exit code (0 after a clean drain,
 * 2 for bad flags, 1 when it cannot start); the caller exits with it.
 */
export async function runWorkerCli(argv: string[]): Promise<number> {
  let config: WorkerConfig;
  try {
    config = parseWorkerArgs(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
    if (!e.code?.startsWith("commander.")) process.stderr.write(`radixserve worker: ${e.message}\n`);
    return 2;
  }
  try {
    setLogLevel(config.logLevel);
  } catch (err) {
    process.stderr.write(`radixserve worker: --log-level: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const resolved = await resolveModelPath(config.modelPath || undefined, {
      cacheDir: config.cacheDir,
      revision: config.revision,
      log: (line) => process.stderr.write(`radixserve worker: ${line}\n`),
    });
    config = { ...config, modelPath: resolved.path };
    if (config.servedModelName === undefined && resolved.servedModelName !== undefined)
      config.servedModelName = resolved.servedModelName;
  } catch (err) {
    process.stderr.write(`radixserve worker: ${(err as Error).message}\n`);
    return 2;
  }
  let isGguf: boolean;
  try {
    isGguf = findGgufFile(config.modelPath) !== null;
  } catch (err) {
    process.stderr.write(`radixserve worker: ${(err as Error).message}\n`);
    return 2;
  }
  if (!isGguf && !existsSync(join(config.modelPath, "config.json"))) {
    process.stderr.write(
      `radixserve worker: --model-path ${config.modelPath} has no config.json and no .gguf file\n`,
    );
    return 2;
  }
  let worker: Awaited<ReturnType<typeof startWorker>>;
  try {
    worker = await startWorker(config);
  } catch (err) {
    process.stderr.write(`radixserve worker: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `${WORKER_READY_PREFIX} ${JSON.stringify({ grpcPort: worker.grpcPort, metricsPort: worker.metricsPort })}\n`,
  );
  return await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`radixserve worker: second ${sig}: exiting now\n`);
        void worker.stop().finally(() => resolve(1));
        return;
      }
      worker.drain().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`radixserve worker: drain failed: ${String(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
