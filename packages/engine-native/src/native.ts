/**
 * Loads the compiled addon and types its surface. The addon lives at build/Release (node-gyp);
 * RADIXSERVE_ENGINE_ADDON points at another build (e.g. the AddressSanitizer one).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { EngineError } from "./errors.js";
import type { TensorDescriptor } from "./weight-plan.js";

export type NativeHandle = { readonly __brand: "radixserve-engine" };
export type NativeRegion = { readonly __brand: "radixserve-kv-region" };
export type NativeTcpListener = { readonly __brand: "radixserve-kv-tcp-listener" };
export type NativeTcpConn = { readonly __brand: "radixserve-kv-tcp-conn" };

export interface NativeConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  ropeScalingType: "" | "llama3";
  ropeFactor: number;
  ropeLowFreqFactor: number;
  ropeHighFreqFactor: number;
  ropeOriginalMaxPosition: number;
  /** Q/K rows hold rotary pairs interleaved (GGUF Llama files). */
  ropeInterleaved: boolean;
}

export interface NativeCreateOptions {
  config: NativeConfig;
  tensors: TensorDescriptor[];
  kvDtype: "f32" | "f16" | "bf16";
  numBlocks: number;
  blockSize: number;
  threads: number;
  simd: string;
  tpSize: number;
  collective: "cpu" | "nccl";
  backend: "cpu" | "cuda";
  cudaLibrary: string;
  /** "" for a private pool. */
  kvPoolShmPath: string;
  /** Quantized weights through the exact (dequantize, f32) path. */
  quantExact: boolean;
}

export interface NativeSampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  seed: number;
  logprobs: number;
  biasTokens?: Int32Array;
  biasValues?: Float32Array;
  allowedTokens?: Uint32Array;
}

export interface NativeStepSeq {
  tokens: Int32Array;
  startPos: number;
  blockTable: Int32Array;
  sample: boolean;
  sampling: NativeSampling;
  promptTokens?: Int32Array;
  outputTokens?: Int32Array;
  /** 0 none, 1 last row, 2 all rows. */
  logitsMode: 0 | 1 | 2;
  /** The last numDraft tokens are drafts to verify. */
  numDraft: number;
  /** Per token: the next token whose logprob row j gives, -1 when not asked. */
  logprobTargets?: Int32Array;
  logprobTopN?: number;
}

export interface NativeStepOut {
  token: number;
  logprob: number;
  topTokens?: Int32Array;
  topLogprobs?: Float32Array;
  logits?: Float32Array;
  /** With numDraft > 0: the accepted drafts, then the target's token. */
  verified?: Omit<NativeStepOut, "logits" | "verified">[];
  /** Per token: the target's logprob, NaN where not asked. */
  targetLogprobs?: Float32Array;
  /** [tokens, top n] alternatives (-1 / NaN padding). */
  targetTopTokens?: Int32Array;
  targetTopLogprobs?: Float32Array;
}

export interface NativeAddon {
  createEngine(opts: NativeCreateOptions): Promise<NativeHandle>;
  engineInfo(h: NativeHandle): {
    simd: string;
    bytesPerBlock: number;
    numBlocks: number;
    weightBytes: number;
    threads: number;
    tpSize: number;
    collective: string;
    backend: string;
    kvPoolPath: string;
  };
  engineStep(h: NativeHandle, seqs: NativeStepSeq[]): Promise<(NativeStepOut | null)[]>;
  engineExport(h: NativeHandle, blocks: Int32Array): Promise<Buffer>;
  engineImport(h: NativeHandle, blocks: Int32Array, data: Uint8Array): Promise<void>;
  engineCopy(h: NativeHandle, src: Int32Array, dst: Int32Array): Promise<void>;
  engineFree(h: NativeHandle): void;
  sliceWeight(opts: {
    name: string;
    dtype: "f32" | "f16" | "bf16";
    shape: number[];
    split: number;
    tpRank: number;
    tpSize: number;
    bytes: Uint8Array;
  }): { rows: number; cols: number; bytes: Buffer };
  // Test hooks of the quantized weights (quant-binding.cc).
  dequantizeRows(o: { dtype: string; rows: number; cols: number; weight: Uint8Array }): Float32Array;
  quantizeRows(o: { dtype: string; rows: number; cols: number; x: Float32Array }): Buffer;
  quantMatmul(o: {
    simd: string;
    exact: boolean;
    dtype: string;
    rows: number;
    cols: number;
    weight: Uint8Array;
    x: Float32Array;
    nTokens: number;
  }): Float32Array;
  /** Best read rate in GB/s of a `bytes` buffer over `threads` threads (bench hook). */
  readBandwidth(bytes: number, threads: number, reps: number): number;
  // The KV data plane (kv-transfer-binding.cc, kv-transfer-tcp-binding.cc; wrapped by kv-transfer.ts).
  crc32c(data: Uint8Array, previous: number, table?: boolean): number;
  crc32cImpl(): string;
  crc32cCopyStreaming(dst: Uint8Array, src: Uint8Array): number;
  engineExportInto(
    h: NativeHandle,
    blocks: Int32Array,
    target: Uint8Array | NativeRegion,
    offset: number,
  ): Promise<number>;
  engineImportFrom(
    h: NativeHandle,
    blocks: Int32Array,
    source: Uint8Array | NativeRegion,
    offset: number,
  ): Promise<number>;
  engineExportToPool(
    h: NativeHandle,
    src: Int32Array,
    pool: NativeRegion,
    dst: Int32Array,
    fence?: NativeRegion,
    slot?: number,
    generation?: number,
  ): Promise<number>;
  engineCrcBlocks(h: NativeHandle, blocks: Int32Array): Promise<number>;
  regionOpenShm(path: string, size: number, create: boolean, memfdName?: string): NativeRegion;
  regionPath(r: NativeRegion): string;
  regionAlloc(size: number): NativeRegion;
  regionSize(r: NativeRegion): number;
  regionFenceOpen(r: NativeRegion, slot: number, generation: number): void;
  regionFenceRevoke(r: NativeRegion, slot: number, generation: number): number;
  regionClose(r: NativeRegion): void;
  regionRead(r: NativeRegion, offset: number, length: number): Buffer;
  regionWrite(r: NativeRegion, offset: number, data: Uint8Array): void;
  tcpListen(
    host: string,
    port: number,
    authKey: Buffer | undefined,
    onProgress: (
      key: string,
      frameOffset: number,
      frameLength: number,
      frameCrc: number,
      error: string,
    ) => void,
  ): { port: number; handle: NativeTcpListener };
  tcpListenerClose(l: NativeTcpListener): void;
  tcpListenerRef(l: NativeTcpListener, ref: boolean): void;
  tcpListenerRefused(l: NativeTcpListener): number;
  tcpExpect(l: NativeTcpListener, key: string, region: NativeRegion, size: number): void;
  tcpExpectBlocks(l: NativeTcpListener, key: string, h: NativeHandle, blocks: Int32Array): boolean;
  engineSendBlocks(
    h: NativeHandle,
    blocks: Int32Array,
    c: NativeTcpConn,
    frameOffset: number,
  ): Promise<number>;
  /** null (nothing queued) when the pool is not host memory. */
  tcpQueueBlocks(
    h: NativeHandle,
    blocks: Int32Array,
    c: NativeTcpConn,
    frameOffset: number,
  ): Promise<number> | null;
  tcpCancel(l: NativeTcpListener, key: string): void;
  tcpConnect(
    host: string,
    port: number,
    key: string,
    authKey: Buffer | undefined,
    timeoutMs: number,
  ): Promise<NativeTcpConn>;
  tcpSendFrame(
    c: NativeTcpConn,
    source: NativeRegion,
    sourceOffset: number,
    length: number,
    frameOffset: number,
    crc: number,
  ): Promise<void>;
  tcpClose(c: NativeTcpConn): void;
  tcpRawLoopback(bytes: number, chunk: number, whole: boolean): number;
  /** Test hook: exercises the CPU collective with rank threads (see addon.cc). */
  collectiveTest(opts: { ranks: number; n: number; rounds: number }): Float32Array[];
}

/** The CUDA backend library (scripts/build-cuda.mjs), loaded by the addon only for backend "cuda". */
export function cudaBackendPath(): string {
  return (
    process.env.RADIXSERVE_CUDA_BACKEND ||
    fileURLToPath(new URL("../build/cuda/librs_cuda.so", import.meta.url))
  );
}

let addon: NativeAddon | null = null;

export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  const path =
    process.env.RADIXSERVE_ENGINE_ADDON ||
    fileURLToPath(new URL("../build/Release/radixserve_engine.node", import.meta.url));
  if (!existsSync(path))
    throw new EngineError(
      "native_failure",
      `native engine addon not found at ${path}: run 'npm run build' (node scripts/build-native.mjs)`,
    );
  addon = createRequire(import.meta.url)(path) as NativeAddon;
  return addon;
}
