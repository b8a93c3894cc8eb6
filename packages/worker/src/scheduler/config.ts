import type { BlockHash } from "@radixserve/core";
import type { SpeculativeConfig } from "./speculation.js";

/** Knobs of the continuous-batching scheduler (the worker fills them from its flags and the model). */
export interface SchedulerConfig {
  /** Tokens per KV block (the engine's block size). */
  blockSize: number;
  /** KV pool capacity in blocks (the engine's numBlocks). */
  numBlocks: number;
  /** Most requests running at once (--max-running-requests). */
  maxRunningRequests: number;
  /** Most requests waiting for admission; beyond it submit() answers queue_full (--max-queued-requests). */
  maxQueuedRequests: number;
  /**
   * Most prefill tokens of ONE request per step (--chunked-prefill-size). A longer prompt is
   * prefilled over several steps, interleaved with decodes. <= 0 disables chunking.
   */
  chunkedPrefillSize: number;
  /** Most prefill tokens of all requests together per step (--max-prefill-tokens). Decode tokens are extra. */
  maxPrefillTokens: number;
  /** The model's context length: prompt + max_new_tokens must fit. */
  maxContextLength: number;
  vocabSize: number;
  /** The model's EOS ids: stops unless a request sets ignoreEos. */
  eosTokenIds: readonly number[];
  /** false = no prefix reuse (--disable-radix-cache): nothing is matched or inserted. */
  enablePrefixCache: boolean;
  /** Root of the block-hash chain for this model (blockHashSeed(...)). */
  hashSeed: BlockHash;
  /**
   * Prefill workers (--short-prefill-tokens): prompts with at most this many tokens left get a
   * step of their own instead of sharing (and waiting out) a long prompt's chunk; every other
   * step is the long prompts' turn. 0 or absent: FCFS steps only.
   */
  shortPrefillTokens?: number;
  /** Speculative decoding (--speculative-algorithm ...); absent: one token per decode step. */
  speculative?: SpeculativeConfig;
}

export const SCHEDULER_DEFAULTS = {
  maxRunningRequests: 64,
  maxQueuedRequests: 1024,
  chunkedPrefillSize: 512,
  maxPrefillTokens: 2048,
  shortPrefillTokens: 128,
} as const;
