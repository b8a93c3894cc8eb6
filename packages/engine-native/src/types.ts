/**
 * The public contract of the native engine, as seen from TypeScript.
 *
 * The engine is a model executor: it owns weights, the paged KV pool and the arithmetic.
 * Policy (which sequences run, which blocks they use, what is cached) lives in the caller.
 * Block ids and positions are always chosen by the caller; the engine validates them.
 */
import type { KvSink, KvSource } from "./kv-io.js";
import type { KvRegion, KvTcpListener } from "./kv-transfer.js";
import type { QuantDtype, TensorDtype } from "./safetensors.js";

/** Options for {@link Engine.load}. Every field but `modelPath` has a default. */
/** A direct transfer's write permission: slot `slot` of the receiver's fence file, for `generation`. */
export interface KvPoolFence {
  region: KvRegion;
  slot: number;
  generation: number;
}

export interface EngineOptions {
  /**
   * A Hugging Face model directory (config.json + *.safetensors (+ index)), a `.gguf` file, or a
   * directory holding one `.gguf` file (architectures llama and qwen2; tensor types F32, F16, BF16,
   * Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K, kept quantized in memory).
   */
  modelPath: string;
  /**
   * Quantizes a Hugging Face checkpoint's weights at load time (SGLang's `--quantization`): the
   * projection matrices to this type (to q8_0 where a row is not whole blocks of the type), the
   * embedding and LM head to q8_0. Refused for GGUF files (already quantized). Default: none.
   */
  quantization?: QuantDtype;
  /**
   * Block-quantized weights multiplied in f32 after dequantizing each row (the exact path: what
   * transformers computes when it loads the same GGUF) instead of integer dot products against
   * activations quantized to 8 bits (the default, fast path). Default false.
   */
  quantExact?: boolean;
  /** Tokens per KV block. Default 16. */
  blockSize?: number;
  /** KV pool capacity in blocks. Takes precedence over `memFractionStatic`. */
  kvCacheBlocks?: number;
  /**
   * Fraction of the machine's available memory that weights + KV pool may use (SGLang's
   * `--mem-fraction-static`). Used when `kvCacheBlocks` is absent. Default 0.5, capped to
   * what the model's context needs for `maxRunningRequests`-like workloads by the caller.
   */
  memFractionStatic?: number;
  /** KV cache element type. "auto" = f32 on CPU. */
  kvCacheDtype?: "auto" | "f32" | "f16" | "bf16";
  /** Compute threads for the step. Default: all cores. */
  threads?: number;
  /**
   * Tensor-parallel ranks inside this engine (SGLang's `--tp`). Default 1. The engine runs every rank
   * itself (one thread each, `threads` split between them): attention heads, KV heads and MLP columns
   * are sharded, o_proj/down_proj all-reduce. Must divide the attention heads, the KV heads (GQA
   * models whose KV heads do not divide are refused, not replicated) and intermediate_size.
   */
  tpSize?: number;
  /**
   * Reserved for multi-process TP (one engine per rank), which is not built: must be 0 (default),
   * since one engine holds all `tpSize` ranks.
   */
  tpRank?: number;
  /**
   * The collective between ranks: "cpu" (default; rank threads, shared-memory all-reduce) or "nccl"
   * (NCCL/RCCL loaded at run time; needs the CUDA backend and tpSize GPUs). Ignored when tpSize is 1.
   * Default: "nccl" for backend "cuda" with tpSize > 1, else "cpu".
   */
  collective?: "cpu" | "nccl";
  /**
   * Where the ranks compute: "cpu" (default) or "cuda" (rank r on CUDA device r; weights and KV pool on
   * the device). "cuda" loads the CUDA backend library built by scripts/build-cuda.mjs (path from
   * RADIXSERVE_CUDA_BACKEND or build/cuda/librs_cuda.so) and fails in one line where it is not built
   * or fewer than tpSize devices are visible. Unverified on a GPU: see the README. Default: the
   * RADIXSERVE_ENGINE_BACKEND environment variable, else "cpu".
   */
  backend?: "cpu" | "cuda";
  /**
   * Kernel set: "auto" (default) picks the best the CPU has; "avx512", "avx2" force one (an error
   * where the CPU lacks it); "reference" runs the plain-loop kernels (the test reference; slow).
   */
  simd?: "auto" | "avx512" | "avx2" | "reference";
  /**
   * Puts the KV pool in shared memory, so another process on the host can map it and write blocks
   * straight into it with exportBlocks to a pool sink. CPU backend and tpSize 1 only. Default: a private pool.
   *   - "memfd:<name>": an anonymous memory file named <name> (what the decode worker uses): its
   *     pages are committed as blocks are first written, like a private pool's, and /dev/shm's
   *     size does not limit it. Other processes of the same user map it at `info.kvPoolPath`
   *     (/proc/<pid>/fd/<n>) with KvRegion.openShm(info.kvPoolPath, 0, false, <name>); it goes
   *     away with the engine.
   *   - a path: a new file there (created exclusively, mode 0600, every page reserved and
   *     committed at load; removed by free()), mapped by others with KvRegion.openShm(path, 0, false).
   */
  kvPoolShmPath?: string;
}

/** What the loaded model is; filled from config.json and the pool size. */
export interface ModelInfo {
  architecture: string; // e.g. "LlamaForCausalLM"
  modelType: string; // config.model_type, e.g. "llama"
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  weightDtype: TensorDtype;
  kvCacheDtype: "f32" | "f16" | "bf16";
  blockSize: number;
  /** KV pool capacity. Valid block ids are 0 .. numBlocks-1. */
  numBlocks: number;
  /**
   * Bytes one block occupies in exportBlocks/importBlocks buffers: all layers, K and V, all KV heads.
   * With TP a block is its per-rank shards concatenated in rank order (rank r: layers × K|V × its
   * numKvHeads/tpSize heads × blockSize × headDim).
   */
  bytesPerBlock: number;
  /** Bytes of weights used by all ranks (as stored; tensors every rank needs are counted per rank). */
  weightBytes: number;
  /** With kvPoolShmPath: where another process maps the pool (the file, or /proc/<pid>/fd/<n>). */
  kvPoolPath?: string;
  /** Tensor-parallel ranks in this engine (1 = none). */
  tpSize: number;
  /** Where the ranks compute. */
  backend: "cpu" | "cuda";
  /** Kernel set picked at load time: "avx512", "avx2" or "reference" (the scalar fallback). */
  simd: string;
  threads: number;
  /** EOS token ids from config.json (generation_config.json may add more; the caller merges). */
  eosTokenIds: number[];
}

/**
 * Sampling for one sequence. Defaults give greedy decoding.
 * Penalties follow OpenAI (frequency/presence: over `outputTokens`) and HF
 * (repetition: over `promptTokens` + `outputTokens`, divides positive logits, multiplies negative).
 * Order: penalties → logit bias → temperature → top-k → top-p → min-p → sample.
 */
export interface SamplingParams {
  /** 0 = greedy (argmax). Default 0. */
  temperature?: number;
  /** 0 or negative = disabled. Default 0. */
  topK?: number;
  /** 1 = disabled. Default 1. */
  topP?: number;
  /** 0 = disabled. Default 0. */
  minP?: number;
  /** 1 = disabled. Default 1. */
  repetitionPenalty?: number;
  /** 0 = disabled. Default 0. */
  frequencyPenalty?: number;
  /** 0 = disabled. Default 0. */
  presencePenalty?: number;
  /**
   * Random seed. The random draw for a token depends only on (seed, position of the sampled
   * token), never on batch composition: same seed + same inputs → same tokens.
   * Absent: a fresh random seed per call.
   */
  seed?: number;
  /** Number of top alternatives to return with logprobs; -1/absent = no logprobs. 0 = only the sampled token's logprob. Max 20. */
  logprobs?: number;
  /**
   * OpenAI's logit_bias: `values[i]` (in [-100, 100]) is added to the logit of `tokenIds[i]`
   * after the penalties; -100 bans a token, 100 all but forces it. Logprobs stay those of the raw
   * logits, like every other sampling transform's.
   */
  logitBias?: { tokenIds: Int32Array; values: Float32Array };
  /**
   * Constrained decoding (a grammar's next-token mask): a bitset of ceil(vocabSize / 32) words,
   * bit t % 32 of word t / 32 set = token t may be sampled. Applied after the bias, before
   * temperature; at least one token must be allowed. Absent = every token.
   */
  allowedTokens?: Uint32Array;
}

/** One sequence's share of a step: a prefill chunk or a single decode token. */
export interface StepSequence {
  /** Token ids to run, at positions startPos .. startPos+tokens.length-1. */
  tokens: Int32Array;
  /** Position of tokens[0]; K/V for positions < startPos must already be in the pool. */
  startPos: number;
  /** Block ids covering positions 0 .. startPos+tokens.length-1 (block i holds positions i*blockSize ..). */
  blockTable: Int32Array;
  /** Sample a next token after the last of `tokens` (false for a non-final prefill chunk). */
  sample: boolean;
  sampling?: SamplingParams;
  /** For the repetition penalty only. */
  promptTokens?: Int32Array;
  /** For the frequency/presence/repetition penalties. */
  outputTokens?: Int32Array;
  /** Return raw logits (before any sampling transform): "last" row or "all" rows of this chunk. Tests and golden checks use it. */
  returnLogits?: "none" | "last" | "all";
  /**
   * Speculative decoding: the last `numDraft` of `tokens` are drafted tokens to verify in this step
   * (needs `sample`; at most tokens.length - 1). The output's `verified` lists the accepted drafts
   * followed by one token of the target's: greedy verification emits exactly what one-token steps
   * would; with temperature > 0, rejection sampling keeps every token distributed as the target's
   * sample. KV is written for every position; the caller drops what follows the accepted tokens.
   * Not with `sampling.allowedTokens` (a grammar's mask holds for one position). Default 0.
   */
  numDraft?: number;
  /**
   * Prompt logprobs: the log-probability of given next tokens at rows of this chunk. One entry per
   * token: `targets[j]` is the token that follows `tokens[j]` (row j's logits predict it), -1 for a
   * row not asked. Only asked rows reach the LM head, so a chunk that asks nothing costs nothing.
   * `top` alternatives per asked row (0..20, default 0).
   */
  promptLogprobs?: { targets: Int32Array; top?: number };
}

export interface TopLogprob {
  token: number;
  logprob: number;
}

/** One sampled token with its logprobs. */
export interface SampledToken {
  /** Sampled token id (-1 when `sample` was false). */
  token: number;
  /** log softmax of the raw logits (before temperature/penalties) at `token`; 0 when logprobs not asked. */
  logprob: number;
  /** Top-n alternatives by raw logprob, descending, when `logprobs` > 0. */
  topLogprobs?: TopLogprob[];
}

/** What a step returns for one sequence (null when `sample` was false and no logits were asked). */
export interface StepOutput extends SampledToken {
  /** With `numDraft` > 0: the accepted drafts, then the target's token (1 .. numDraft + 1 entries; `token` is the first). */
  verified?: SampledToken[];
  /** Raw logits, rows × vocabSize, when `returnLogits` asked for them. */
  logits?: Float32Array;
  /**
   * With `promptLogprobs`: one entry per token of the chunk, the log softmax of row j's raw logits
   * at `targets[j]` (null where not asked), with `top` alternatives.
   */
  promptLogprobs?: (PromptLogprob | null)[];
}

/** The log-probability of one given token and the most likely alternatives at its position. */
export interface PromptLogprob {
  token: number;
  logprob: number;
  top: TopLogprob[];
}

/** The loaded engine. Only one step runs at a time per engine; step() calls queue. */
export interface Engine {
  readonly info: ModelInfo;
  /** Runs one batched forward step off the JS thread. Rejects with a clear Error on bad input. */
  step(seqs: StepSequence[]): Promise<(StepOutput | null)[]>;
  /**
   * Copies whole blocks (all layers, K and V, every rank's shard) out of the pool, in the given
   * order: `blockIds.length * info.bytesPerBlock` bytes in transfer layout. Importing needs an
   * engine with the same model, KV dtype, block size and tpSize. Without a sink: into a new
   * buffer. With a sink (kv-io.ts: memory, another pool, a tcp frame): into it, resolving with the
   * CRC-32C of the bytes computed in the same pass. Rejects when the range does not fit the sink.
   *
   * pool sink (the direct shm path): this engine must have tpSize 1 and the caller must only target
   * blocks the other side has reserved for this transfer; with a fence the copy runs only while the
   * receiver has not revoked it (it holds the slot for the duration of the call and rejects without
   * writing anything once revoked), so a receiver can reuse the blocks as soon as a revoke finds no
   * write in progress.
   *
   * tcp sink: frames on one connection go in call order. A host pool's frames wait on the
   * connection's own send queue, not behind the engine's other calls (they may overlap a step: the
   * blocks must be final, and stay allocated until the promise settles); a device pool's are staged
   * through host memory by a call queued like every engine call. Rejects when the peer is gone or
   * accepts nothing before the connection's send deadline; after a failed frame, the connection's
   * later frames fail too.
   */
  exportBlocks(blockIds: Int32Array): Promise<Buffer>;
  exportBlocks(blockIds: Int32Array, sink: KvSink): Promise<number>;
  /**
   * Writes `blockIds.length * info.bytesPerBlock` bytes of transfer layout (what exportBlocks
   * made, same model and dtype) into the given blocks: a Uint8Array of exactly that size, or a
   * source (kv-io.ts) at a byte offset. Resolves with the CRC-32C of those bytes, computed in the
   * same pass: the caller compares it with the sender's, and a mismatch means the blocks hold
   * garbage and must not be used.
   */
  importBlocks(blockIds: Int32Array, data: Uint8Array | KvSource): Promise<number>;
  /** The CRC-32C of `blockIds` in transfer byte order (verifies bytes a peer wrote straight into the pool). */
  crcBlocks(blockIds: Int32Array): Promise<number>;
  /**
   * The tcp receiver's registration (not a copy: the listener's connection thread does it later):
   * registers the tcp transfer `key` on `listener` so its bytes land straight in `blockIds` of the
   * pool (in order), read by the listener's connection thread. False when the pool is not in host
   * memory (the caller then receives into a region and imports). The engine is not freed while
   * the transfer is registered; listener.cancel(key) ends it.
   */
  expectBlocksFrom(listener: KvTcpListener, key: string, blockIds: Int32Array): boolean;
  /** Copy-on-write support: copies block src[i] to dst[i] for every i. */
  copyBlocks(src: Int32Array, dst: Int32Array): Promise<void>;
  /** Releases weights and the pool. Any later call throws "engine has been freed". */
  free(): void;
}
