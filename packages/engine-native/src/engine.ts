/**
 * loadEngine: reads and validates the model directory in TypeScript, sizes the KV pool, and wraps
 * the native engine behind the `Engine` contract. Calls are serialized per engine by a promise
 * queue (the native side runs one operation at a time).
 */

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { EngineError } from "./errors.js";
import { findGgufFile } from "./gguf/index.js";
import { readGgufModel } from "./gguf-model.js";
import { type KvSink, type KvSource, kvSource } from "./kv-io.js";
import { KvRegion, type KvTcpConnection, type KvTcpListener } from "./kv-transfer.js";
import { type ModelConfig, readModelConfig } from "./model-config.js";
import {
  cudaBackendPath,
  type NativeAddon,
  type NativeHandle,
  type NativeRegion,
  type NativeStepOut,
  nativeAddon,
} from "./native.js";
import { QUANT_DTYPES, type QuantDtype, readModelTensors, type TensorInfo } from "./safetensors.js";
import { checkBlockIds, prepareStep, promptLogprobsOf } from "./step-input.js";
import type {
  Engine,
  EngineOptions,
  KvPoolFence,
  ModelInfo,
  SampledToken,
  StepOutput,
  StepSequence,
} from "./types.js";
import { planWeights } from "./weight-plan.js";

const KV_BYTES = { f32: 4, f16: 2, bf16: 2 } as const;

/**
 * Memory this process may still use, in bytes: MemAvailable from /proc/meminfo, capped by the
 * cgroup limit (a Kubernetes pod's memory limit) minus what the process already holds, so that
 * `memFractionStatic` sizes the pool for the container and not for the whole node.
 * Null where neither is known.
 */
function memAvailable(): number | null {
  let avail: number | null = null;
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    if (m) avail = Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through to the cgroup limit or the caller's default
  }
  const limit = process.constrainedMemory?.() ?? 0;
  // Unconstrained processes report a huge number (2^64 - 1) or 0.
  if (limit > 0 && limit < 2 ** 52) {
    const room = Math.max(0, limit - process.memoryUsage.rss());
    avail = avail === null ? room : Math.min(avail, room);
  }
  return avail;
}

function optInt(v: number | undefined, def: number, what: string, min: number): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < min)
    throw new EngineError("options_invalid", `${what} = ${v} must be an integer >= ${min}`);
  return v;
}

function wrapNative(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/engine has been freed/.test(msg)) return new EngineError("engine_freed", msg, { cause: e });
  return new EngineError("native_failure", msg, { cause: e });
}

class NativeEngine implements Engine {
  readonly info: ModelInfo;
  private readonly addon: NativeAddon;
  private handle: NativeHandle | null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(addon: NativeAddon, handle: NativeHandle, info: ModelInfo) {
    this.addon = addon;
    this.handle = handle;
    this.info = info;
  }

  private freedError(): Promise<never> {
    return Promise.reject(new EngineError("engine_freed", "engine has been freed"));
  }

  /** Runs `op` after every earlier call settled; throws at once when the engine was freed. */
  private enqueue<T>(op: (h: NativeHandle) => Promise<T>): Promise<T> {
    const h = this.handle;
    if (!h) return this.freedError();
    const run = this.queue.then(
      () => op(h),
      () => op(h),
    );
    this.queue = run.catch(() => undefined);
    return run.catch((e: unknown) => {
      throw wrapNative(e);
    });
  }

  step(seqs: StepSequence[]): Promise<(StepOutput | null)[]> {
    if (!this.handle) return this.freedError();
    let prepared: ReturnType<typeof prepareStep>;
    try {
      prepared = prepareStep(seqs, this.info);
    } catch (e) {
      return Promise.reject(e);
    }
    if (prepared.length === 0) return Promise.resolve([]);
    return this.enqueue(async (h) => {
      const raw = await this.addon.engineStep(h, prepared);
      return raw.map((r, i): StepOutput | null => {
        if (!r) return null;
        const out: StepOutput = sampledToken(r);
        if (r.verified) out.verified = r.verified.map(sampledToken);
        if (r.logits) out.logits = r.logits;
        const targets = prepared[i]?.logprobTargets;
        if (r.targetLogprobs && targets) out.promptLogprobs = promptLogprobsOf(r, targets);
        return out;
      });
    });
  }

  exportBlocks(blockIds: Int32Array): Promise<Buffer>;
  exportBlocks(blockIds: Int32Array, sink: KvSink): Promise<number>;
  exportBlocks(blockIds: Int32Array, sink?: KvSink): Promise<Buffer | number> {
    if (!sink) return this.exportToBuffer(blockIds);
    switch (sink.kind) {
      case "memory":
        return this.regionOp("exportBlocks", blockIds, sink.target, sink.offset, (h, t) =>
          this.addon.engineExportInto(h, blockIds, t, sink.offset),
        );
      case "pool":
        return this.exportToPool(blockIds, sink.pool, sink.dstIds, sink.fence);
      case "tcp":
        return this.sendFrame(blockIds, sink.conn, sink.frameOffset);
      default:
        return Promise.reject(
          new EngineError("input_invalid", `exportBlocks: unknown sink ${JSON.stringify(sink)}`),
        );
    }
  }

  importBlocks(blockIds: Int32Array, data: Uint8Array | KvSource): Promise<number> {
    if (!this.handle) return this.freedError();
    if (data instanceof Uint8Array) {
      const want = blockIds.length * this.info.bytesPerBlock;
      if (data.byteLength !== want)
        return Promise.reject(
          new EngineError(
            "input_invalid",
            `importBlocks data is ${data.byteLength} bytes, expected ${want} (${blockIds.length} blocks of ${this.info.bytesPerBlock})`,
          ),
        );
      data = kvSource.memory(data, 0);
    }
    if (data?.kind !== "memory")
      return Promise.reject(
        new EngineError("input_invalid", "importBlocks data must be a Uint8Array or a KvSource"),
      );
    const src = data;
    return this.regionOp("importBlocks", blockIds, src.source, src.offset, (h, m) =>
      this.addon.engineImportFrom(h, blockIds, m, src.offset),
    );
  }

  private exportToBuffer(blockIds: Int32Array): Promise<Buffer> {
    if (!this.handle) return this.freedError();
    try {
      checkBlockIds(blockIds, this.info.numBlocks, "exportBlocks blockIds");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue((h) => this.addon.engineExport(h, blockIds));
  }

  private exportToPool(
    srcIds: Int32Array,
    pool: KvRegion,
    dstIds: Int32Array,
    fence?: KvPoolFence,
  ): Promise<number> {
    if (!this.handle) return this.freedError();
    try {
      checkBlockIds(srcIds, this.info.numBlocks, "exportBlocks (pool sink) srcIds");
      if (!(dstIds instanceof Int32Array) || dstIds.length !== srcIds.length)
        throw new EngineError(
          "input_invalid",
          `exportBlocks (pool sink): dstIds must be an Int32Array of ${srcIds.length} block ids`,
        );
      if (!(pool instanceof KvRegion) || pool.isClosed)
        throw new EngineError("input_invalid", "exportBlocks (pool sink): pool must be an open KvRegion");
      if (fence && (!(fence.region instanceof KvRegion) || fence.region.isClosed))
        throw new EngineError(
          "input_invalid",
          "exportBlocks (pool sink): fence.region must be an open KvRegion",
        );
      if (this.info.tpSize !== 1)
        throw new EngineError("input_invalid", "exportBlocks to a pool needs an engine with tpSize 1");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue((h) =>
      fence
        ? this.addon.engineExportToPool(
            h,
            srcIds,
            pool.handle,
            dstIds,
            fence.region.handle,
            fence.slot,
            fence.generation,
          )
        : this.addon.engineExportToPool(h, srcIds, pool.handle, dstIds),
    );
  }

  crcBlocks(blockIds: Int32Array): Promise<number> {
    if (!this.handle) return this.freedError();
    try {
      checkBlockIds(blockIds, this.info.numBlocks, "crcBlocks blockIds");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue((h) => this.addon.engineCrcBlocks(h, blockIds));
  }

  private sendFrame(blockIds: Int32Array, conn: KvTcpConnection, frameOffset: number): Promise<number> {
    const h = this.handle;
    if (!h) return this.freedError();
    try {
      checkBlockIds(blockIds, this.info.numBlocks, "exportBlocks (tcp sink) blockIds");
      if (blockIds.length === 0)
        throw new EngineError("input_invalid", "exportBlocks to tcp needs at least one block");
      if (conn.isClosed)
        throw new EngineError("input_invalid", "exportBlocks (tcp sink): the tcp connection is closed");
      if (!Number.isInteger(frameOffset) || frameOffset < 0)
        throw new EngineError(
          "input_invalid",
          `exportBlocks (tcp sink): frame offset ${frameOffset} must be an integer >= 0`,
        );
    } catch (e) {
      return Promise.reject(e);
    }
    // A host pool's frames go onto the connection's own send queue at once (in call order), not
    // behind the engine's other calls: its thread writes them back to back and only reads blocks
    // the caller has finished. Otherwise the frame is staged through host memory by a queued call.
    let queued: Promise<number> | null;
    try {
      queued = this.addon.tcpQueueBlocks(h, blockIds, conn.handle, frameOffset);
    } catch (e) {
      return Promise.reject(wrapNative(e));
    }
    if (queued)
      return queued.catch((e: unknown) => {
        throw wrapNative(e);
      });
    return this.enqueue((eh) => this.addon.engineSendBlocks(eh, blockIds, conn.handle, frameOffset));
  }

  expectBlocksFrom(listener: KvTcpListener, key: string, blockIds: Int32Array): boolean {
    const h = this.handle;
    if (!h) throw new EngineError("engine_freed", "engine has been freed");
    checkBlockIds(blockIds, this.info.numBlocks, "expectBlocksFrom blockIds");
    if (blockIds.length === 0)
      throw new EngineError("input_invalid", "expectBlocksFrom needs at least one block");
    if (!listener.isOpen)
      throw new EngineError("input_invalid", "expectBlocksFrom: the tcp listener is closed");
    let ok: boolean;
    try {
      ok = this.addon.tcpExpectBlocks(listener.handle, key, h, blockIds);
    } catch (e) {
      throw wrapNative(e);
    }
    if (ok) listener.track(key);
    return ok;
  }

  /** Validates a block transfer to/from a buffer or region, then queues it like every engine call. */
  private regionOp(
    what: string,
    blockIds: Int32Array,
    mem: Uint8Array | KvRegion,
    offset: number,
    op: (h: NativeHandle, m: Uint8Array | NativeRegion) => Promise<number>,
  ): Promise<number> {
    if (!this.handle) return this.freedError();
    try {
      checkBlockIds(blockIds, this.info.numBlocks, `${what} blockIds`);
      const region = mem instanceof KvRegion;
      if (!region && !(mem instanceof Uint8Array))
        throw new EngineError("input_invalid", `${what}: memory must be a Uint8Array or a KvRegion`);
      if (region && mem.isClosed) throw new EngineError("input_invalid", `${what}: the KV region is closed`);
      const size = region ? mem.size : mem.byteLength;
      const len = blockIds.length * this.info.bytesPerBlock;
      if (!Number.isInteger(offset) || offset < 0 || offset + len > size)
        throw new EngineError(
          "input_invalid",
          `${what}: [${offset}, +${len}) (${blockIds.length} blocks) does not fit the ${size}-byte ${region ? "region" : "buffer"}`,
        );
    } catch (e) {
      return Promise.reject(e);
    }
    const m = mem instanceof KvRegion ? mem.handle : mem;
    return this.enqueue((h) => op(h, m));
  }

  copyBlocks(src: Int32Array, dst: Int32Array): Promise<void> {
    if (!this.handle) return this.freedError();
    try {
      checkBlockIds(src, this.info.numBlocks, "copyBlocks src");
      checkBlockIds(dst, this.info.numBlocks, "copyBlocks dst");
      if (src.length !== dst.length)
        throw new EngineError("input_invalid", `copyBlocks: src has ${src.length} ids, dst ${dst.length}`);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue((h) => this.addon.engineCopy(h, src, dst));
  }

  free(): void {
    const h = this.handle;
    if (!h) return;
    this.handle = null;
    // Native memory goes once the calls already queued have settled.
    void this.queue.then(() => this.addon.engineFree(h));
  }
}

/** What loadEngine needs of a model, from a Hugging Face directory or a GGUF file. */
interface ModelSource {
  config: ModelConfig;
  tensors: Map<string, TensorInfo>;
  ropeInterleaved: boolean;
  gguf: boolean;
}

function readModelSource(path: string): ModelSource {
  const gguf = findGgufFile(path);
  if (gguf) {
    const m = readGgufModel(gguf);
    return { config: m.config, tensors: m.tensors, ropeInterleaved: m.ropeInterleaved, gguf: true };
  }
  return {
    config: readModelConfig(path),
    tensors: readModelTensors(path),
    ropeInterleaved: false,
    gguf: false,
  };
}

function quantizationOption(q: string | undefined, source: ModelSource): QuantDtype | undefined {
  if (q === undefined) return undefined;
  if (!QUANT_DTYPES.includes(q as QuantDtype))
    throw new EngineError("options_invalid", `quantization '${q}' must be one of ${QUANT_DTYPES.join(", ")}`);
  if (source.gguf)
    throw new EngineError(
      "options_invalid",
      `quantization '${q}': ${source.config.path} is a GGUF file, already quantized; quantization applies to Hugging Face checkpoints`,
    );
  return q as QuantDtype;
}

function nativeConfig(c: ModelConfig, ropeInterleaved: boolean) {
  return {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    maxPositionEmbeddings: c.maxPositionEmbeddings,
    ropeTheta: c.ropeTheta,
    rmsNormEps: c.rmsNormEps,
    tieWordEmbeddings: c.tieWordEmbeddings,
    ropeScalingType: c.ropeScaling ? c.ropeScaling.type : "",
    ropeFactor: c.ropeScaling?.factor ?? 1,
    ropeLowFreqFactor: c.ropeScaling?.lowFreqFactor ?? 1,
    ropeHighFreqFactor: c.ropeScaling?.highFreqFactor ?? 4,
    ropeOriginalMaxPosition: c.ropeScaling?.originalMaxPositionEmbeddings ?? 8192,
    ropeInterleaved,
  } as const;
}

/**
 * Refuses a TP size the model's shapes cannot split, in one line naming the numbers. GQA models whose
 * KV heads do not divide by tpSize are refused rather than served with replicated KV heads: replication
 * would multiply the KV pool and the export format per rank, for a case the presets here do not need.
 */
function checkTp(config: ModelConfig, tpSize: number): void {
  const bad: string[] = [];
  if (config.numHeads % tpSize !== 0) bad.push(`num_attention_heads ${config.numHeads}`);
  if (config.numKvHeads % tpSize !== 0) bad.push(`num_key_value_heads ${config.numKvHeads}`);
  if (config.intermediateSize % tpSize !== 0) bad.push(`intermediate_size ${config.intermediateSize}`);
  if (bad.length > 0)
    throw new EngineError(
      "options_invalid",
      `--tp ${tpSize} does not divide ${bad.join(", ")}; use a tp size that divides ${gcd3(config)}`,
    );
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The largest TP size the shapes allow, as a hint (any divisor of it works). */
function gcd3(c: ModelConfig): string {
  return `${gcd(gcd(c.numHeads, c.numKvHeads), c.intermediateSize)}`;
}

/**
 * Loads a Hugging Face Llama-family model directory or a GGUF file. Rejects with an EngineError
 * naming the problem.
 */
export async function loadEngine(opts: EngineOptions): Promise<Engine> {
  if (!opts || typeof opts.modelPath !== "string")
    throw new EngineError("options_invalid", "modelPath is required");
  const source = readModelSource(opts.modelPath);
  const config = source.config;
  const quantization = quantizationOption(opts.quantization, source);
  const tpSize = optInt(opts.tpSize, 1, "tpSize", 1);
  const tpRank = optInt(opts.tpRank, 0, "tpRank", 0);
  if (tpRank >= tpSize)
    throw new EngineError("options_invalid", `tpRank ${tpRank} must be < tpSize ${tpSize}`);
  if (tpRank !== 0)
    throw new EngineError(
      "options_invalid",
      `tpRank ${tpRank}: one engine runs all ${tpSize} ranks in-process; multi-process TP is not built`,
    );
  checkTp(config, tpSize);
  // RADIXSERVE_ENGINE_BACKEND lets a whole process tree (launcher, workers) run on CUDA without a flag
  // in every CLI; an explicit option wins.
  const backend =
    opts.backend ?? (process.env.RADIXSERVE_ENGINE_BACKEND as EngineOptions["backend"]) ?? "cpu";
  if (backend !== "cpu" && backend !== "cuda")
    throw new EngineError("options_invalid", `backend '${backend}' must be cpu or cuda`);
  // Device buffers need a device collective: NCCL by default for CUDA ranks.
  const collective = opts.collective ?? (backend === "cuda" && tpSize > 1 ? "nccl" : "cpu");
  if (collective !== "cpu" && collective !== "nccl")
    throw new EngineError("options_invalid", `collective '${collective}' must be cpu or nccl`);
  const tensors = source.tensors;
  // Rank 0's plan validates shapes; the native side re-slices the same descriptors for every rank.
  const plan = planWeights(config, tensors, { rank: 0, size: tpSize }, quantization);
  // Bytes of the model across all ranks (for sizing the KV pool against memory).
  const totalWeightBytes =
    tpSize === 1 ? plan.weightBytes : planWeights(config, tensors, undefined, quantization).weightBytes;
  const blockSize = optInt(opts.blockSize, 16, "blockSize", 1);
  const threads = optInt(opts.threads, availableParallelism(), "threads", 1);
  const kvDtype = opts.kvCacheDtype === undefined || opts.kvCacheDtype === "auto" ? "f32" : opts.kvCacheDtype;
  if (!(kvDtype in KV_BYTES))
    throw new EngineError(
      "options_invalid",
      `kvCacheDtype '${opts.kvCacheDtype}' must be auto, f32, f16 or bf16`,
    );
  // All ranks together hold every KV head once.
  const bytesPerBlock =
    config.numLayers * 2 * config.numKvHeads * blockSize * config.headDim * KV_BYTES[kvDtype];
  const minBlocks = Math.ceil(config.maxPositionEmbeddings / blockSize);
  let numBlocks: number;
  if (opts.kvCacheBlocks !== undefined) {
    numBlocks = optInt(opts.kvCacheBlocks, 0, "kvCacheBlocks", 1);
  } else {
    const frac = opts.memFractionStatic ?? 0.5;
    if (!(frac > 0 && frac <= 1))
      throw new EngineError("options_invalid", `memFractionStatic = ${frac} must be in (0, 1]`);
    const avail = memAvailable() ?? 4 * 1024 ** 3;
    numBlocks = Math.max(minBlocks, Math.floor((frac * avail - totalWeightBytes) / bytesPerBlock));
  }
  const simd = opts.simd ?? "auto";
  const addon = nativeAddon();
  let handle: NativeHandle;
  try {
    handle = await addon.createEngine({
      config: nativeConfig(config, source.ropeInterleaved),
      quantExact: opts.quantExact === true,
      tensors: plan.tensors,
      kvDtype,
      numBlocks,
      blockSize,
      threads,
      simd,
      tpSize,
      collective,
      backend,
      cudaLibrary: cudaBackendPath(),
      kvPoolShmPath: opts.kvPoolShmPath ?? "",
    });
  } catch (e) {
    const msg = (e as Error).message;
    // Native failures become typed errors here, once, so callers test codes and never messages.
    // A shared pool that cannot be made: the caller may retry with a private one.
    if (/shared KV pool|kvPoolShmPath/.test(msg))
      throw new EngineError("kv_pool_shared_failed", msg, { cause: e });
    // Device, collective and backend problems are about the options and the machine, not the model.
    if (/collective|backend|CUDA|NCCL|device memory|--tp \d+ needs/.test(msg))
      throw new EngineError("options_invalid", msg, { cause: e });
    throw new EngineError("model_invalid", `${opts.modelPath}: ${msg}`, { cause: e });
  }
  const n = addon.engineInfo(handle);
  const info: ModelInfo = {
    architecture: config.architecture,
    modelType: config.modelType,
    vocabSize: config.vocabSize,
    hiddenSize: config.hiddenSize,
    intermediateSize: config.intermediateSize,
    numLayers: config.numLayers,
    numHeads: config.numHeads,
    numKvHeads: config.numKvHeads,
    headDim: config.headDim,
    maxPositionEmbeddings: config.maxPositionEmbeddings,
    weightDtype: plan.weightDtype,
    kvCacheDtype: kvDtype,
    blockSize,
    numBlocks: n.numBlocks,
    bytesPerBlock: n.bytesPerBlock,
    weightBytes: n.weightBytes,
    simd: n.simd,
    threads: n.threads,
    tpSize: n.tpSize,
    backend: n.backend === "cuda" ? "cuda" : "cpu",
    eosTokenIds: config.eosTokenIds,
    ...(n.kvPoolPath ? { kvPoolPath: n.kvPoolPath } : {}),
  };
  return new NativeEngine(addon, handle, info);
}

function sampledToken(r: Omit<NativeStepOut, "logits" | "verified">): SampledToken {
  const out: SampledToken = { token: r.token, logprob: r.logprob };
  if (r.topTokens && r.topLogprobs) {
    const lp = r.topLogprobs;
    out.topLogprobs = Array.from(r.topTokens, (token, i) => ({ token, logprob: lp[i]! }));
  }
  return out;
}
