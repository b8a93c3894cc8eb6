import type { ClusterSecret, ClusterTls, DisaggMode } from "@radixserve/core";
import type { QuantDtype } from "@radixserve/engine-native";
import { SCHEDULER_DEFAULTS, type SpeculativeConfig } from "./scheduler/index.js";

/** --kv-transport: `auto` = shm when the paired workers share a host (and shm is allowed), else grpc. */
export type KvTransportChoice = "auto" | "grpc" | "shm" | "tcp" | "rdma";

/** Everything a worker process needs; the CLI fills it from flags (SGLang's names). */
export interface WorkerConfig {
  disaggMode: DisaggMode;
  /** A Hugging Face model directory, a .gguf file or a directory holding one (resolved by the CLI). */
  modelPath: string;
  /** Hub revision when --model-path is an org/name id. */
  revision?: string;
  /** Model cache root (default $RADIXSERVE_CACHE or ~/.cache/radixserve). */
  cacheDir?: string;
  host: string;
  /** gRPC port; 0 = a free port (reported on the READY line). */
  port: number;
  /** HTTP /metrics + /health port; 0 = a free port. */
  metricsPort: number;
  tp: number;
  memFractionStatic?: number;
  /** KV pool size in blocks; takes precedence over memFractionStatic. */
  kvCacheBlocks?: number;
  blockSize: number;
  maxRunningRequests: number;
  maxQueuedRequests: number;
  /**
   * Most token events of one Generate stream that its reader has left unsent in this worker's
   * buffers; past it the request is aborted with client_too_slow (its KV freed).
   */
  maxUnreadTokens: number;
  chunkedPrefillSize: number;
  maxPrefillTokens: number;
  /** Prefill mode: prompts with at most this many tokens left get steps of their own (0: FCFS only). */
  shortPrefillTokens: number;
  /** Caps the model's max_position_embeddings (0 = use the model's). */
  contextLength: number;
  threads?: number;
  /** --quantization: quantize an HF checkpoint's weights at load time. */
  quantization?: QuantDtype;
  /** The model id clients use (/v1/models); default: the model directory's name. */
  servedModelName?: string;
  /** OTLP/HTTP traces endpoint (--otlp-traces-endpoint); undefined = tracing off. */
  otlpTracesEndpoint?: string | undefined;
  logLevel: string;
  disableRadixCache: boolean;
  /** Speculative decoding (--speculative-*; unified and decode modes); absent: off. */
  speculative?: SpeculativeConfig;
  // ---- prefill/decode disaggregation (decode and prefill modes) ----
  kvTransport: KvTransportChoice;
  /** With `auto`: never use shm (e.g. when /dev/shm is too small). */
  disableShmTransport: boolean;
  /**
   * Decode with shm: keep the KV pool private, so shm transfers go through a per-transfer file (two
   * copies) instead of P writing straight into this worker's pool (one copy; the pool then lives in
   * /dev/shm and is committed at start-up).
   */
  disableShmDirect: boolean;
  /** Decode: prefill locally when the uncached prompt part is shorter than this (tokens). */
  disaggPrefillThreshold: number;
  /** Decode: longest wait for KV blocks to reserve. */
  kvReserveTimeoutMs: number;
  /** Decode: longest time from the Prefill start to the first token + every block (prefill: x2 per session). */
  kvTransferTimeoutMs: number;
  /** Most unacked KV chunks in flight per transfer. */
  kvWindowChunks: number;
  /** Target bytes per KV chunk. */
  kvChunkBytes: number;
  /** Decode: read imported blocks back and compare checksums (tests). */
  kvVerifyImports: boolean;
  /** Prefill: send no KV before the whole prompt is computed (no-overlap baseline, benchmarks). */
  kvSendWhenDone: boolean;
  /** Decode, tcp transport: the host prefill workers dial (e.g. the pod IP); default --host. */
  kvAdvertiseHost?: string;
  /** Decode, tcp transport: the data plane's listening port (0: a free port). */
  kvPort: number;
  /**
   * The cluster secret (--cluster-secret-file or RADIXSERVE_CLUSTER_SECRET): every gRPC call must
   * carry its token, and tcp data connections must pass its handshake. null: no authentication.
   */
  clusterSecret: ClusterSecret | null;
  /**
   * Mutual TLS for gRPC (--tls-cert, --tls-key, --tls-ca): the server takes TLS only and requires
   * a client certificate the CA signed; calls to prefill workers use the same identity. null: plaintext.
   */
  clusterTls: ClusterTls | null;
  // ---- cluster: discovery in Redis, KV events and load on NATS ----
  /** Register in this Redis (redis://host:port) so routers discover the worker. */
  redisUrl?: string | undefined;
  /** Publish KV events and load reports on these NATS servers (host:port[,...]). */
  natsUrl?: string | undefined;
  /** The address routers dial (default: --host and the gRPC port). */
  advertiseAddress?: string | undefined;
  /** Redis registration TTL in ms (renewed every third of it). */
  discoveryTtlMs: number;
}

export const WORKER_DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  metricsPort: 0,
  tp: 1,
  blockSize: 16,
  maxRunningRequests: SCHEDULER_DEFAULTS.maxRunningRequests,
  maxQueuedRequests: SCHEDULER_DEFAULTS.maxQueuedRequests,
  // Past the HTTP/2 flow-control window (~2,000 token events) and the router's own socket
  // buffers: a reader this far behind has stalled rather than slowed.
  maxUnreadTokens: 4096,
  chunkedPrefillSize: SCHEDULER_DEFAULTS.chunkedPrefillSize,
  maxPrefillTokens: SCHEDULER_DEFAULTS.maxPrefillTokens,
  shortPrefillTokens: SCHEDULER_DEFAULTS.shortPrefillTokens,
  contextLength: 0,
  logLevel: "info",
  disableRadixCache: false,
  kvTransport: "auto",
  disableShmTransport: false,
  disableShmDirect: false,
  // Measured with bench/disagg (see its README): below ~this many uncached tokens a local prefill
  // step costs less than a transfer round trip on the tiny/small models here.
  disaggPrefillThreshold: 32,
  kvReserveTimeoutMs: 10_000,
  kvTransferTimeoutMs: 30_000,
  kvWindowChunks: 8,
  kvChunkBytes: 1024 * 1024,
  kvVerifyImports: false,
  kvSendWhenDone: false,
  kvPort: 0,
  clusterSecret: null,
  clusterTls: null,
  discoveryTtlMs: 5000,
} as const;
