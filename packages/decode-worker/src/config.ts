import { SCHEDULER_DEFAULTS } from "@radixserve/core";

export type DisaggMode = "unified" | "prefill" | "decode";

/** Everything a worker process needs; the CLI fills it from flags (SGLang's names). */
export interface WorkerConfig {
  disaggMode: DisaggMode;
  /** A Hugging Face model directory. */
  modelPath: string;
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
  chunkedPrefillSize: number;
  maxPrefillTokens: number;
  /** Caps the model's max_position_embeddings (0 = use the model's). */
  contextLength: number;
  threads?: number;
  /** The model id clients use (/v1/models); default: the model directory's name. */
  servedModelName?: string;
  logLevel: string;
  disableRadixCache: boolean;
}

export const WORKER_DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  metricsPort: 0,
  tp: 1,
  blockSize: 16,
  maxRunningRequests: SCHEDULER_DEFAULTS.maxRunningRequests,
  maxQueuedRequests: SCHEDULER_DEFAULTS.maxQueuedRequests,
  chunkedPrefillSize: SCHEDULER_DEFAULTS.chunkedPrefillSize,
  maxPrefillTokens: SCHEDULER_DEFAULTS.maxPrefillTokens,
  contextLength: 0,
  logLevel: "info",
  disableRadixCache: false,
} as const;

/** The line the launcher and the test harness wait for (exactly one, on stdout). */
export const READY_PREFIX = "RADIXSERVE_WORKER_READY";
