/**
 * loadEngine: reads and validates the model directory in TypeScript, sizes the KV pool, and wraps
 * the native engine behind the `Engine` contract. Calls are serialized per engine by a promise
 * queue (the native side runs one operation at a time).
 */

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { EngineError } from "./errors.js";
import { type ModelConfig, readModelConfig } from "./model-config.js";
import { type NativeAddon, type NativeHandle, nativeAddon } from "./native.js";
import { readModelTensors } from "./safetensors.js";
import { checkBlockIds, prepareStep } from "./step-input.js";
import type { Engine, EngineOptions, ModelInfo, StepOutput, StepSequence } from "./types.js";
import { planWeights } from "./weight-plan.js";

const KV_BYTES = { f32: 4, f16: 2, bf16: 2 } as const;

/** MemAvailable from /proc/meminfo in bytes (null where the file does not exist). */
function memAvailable(): number | null {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
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
      return raw.map((r): StepOutput | null => {
        if (!r) return null;
        const out: StepOutput = { token: r.token, logprob: r.logprob };
        if (r.topTokens && r.topLogprobs) {
          const lp = r.topLogprobs;
          out.topLogprobs = Array.from(r.topTokens, (token, i) => ({ token, logprob: lp[i]! }));
        }
        if (r.logits) out.logits = r.logits;
        return out;
      });
    });
  }

  exportBlocks(blockIds: Int32Array): Promise<Buffer> {
    if (!this.handle) return this.freedError();
    try {
      checkBlockIds(blockIds, this.info.numBlocks, "exportBlocks blockIds");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue((h) => this.addon.engineExport(h, blockIds));
  }

  importBlocks(blockIds: Int32Array, data: Uint8Array): Promise<void> {
    if (!this.handle) return this.freedError();
    try {
      checkBlockIds(blockIds, this.info.numBlocks, "importBlocks blockIds");
      if (!(data instanceof Uint8Array))
        throw new EngineError("input_invalid", "importBlocks data must be a Uint8Array");
      const want = blockIds.length * this.info.bytesPerBlock;
      if (data.byteLength !== want)
        throw new EngineError(
          "input_invalid",
          `importBlocks data is ${data.byteLength} bytes, expected ${want} (${blockIds.length} blocks of ${this.info.bytesPerBlock})`,
        );
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue((h) => this.addon.engineImport(h, blockIds, data));
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

function nativeConfig(c: ModelConfig) {
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
  } as const;
}

/** Loads a Hugging Face Llama-family model directory. Rejects with an EngineError naming the problem. */
export async function loadEngine(opts: EngineOptions): Promise<Engine> {
  if (!opts || typeof opts.modelPath !== "string")
    throw new EngineError("options_invalid", "modelPath is required");
  const config = readModelConfig(opts.modelPath);
  const tpSize = optInt(opts.tpSize, 1, "tpSize", 1);
  const tpRank = optInt(opts.tpRank, 0, "tpRank", 0);
  if (tpRank >= tpSize)
    throw new EngineError("options_invalid", `tpRank ${tpRank} must be < tpSize ${tpSize}`);
  if (tpSize > 1)
    throw new EngineError(
      "options_invalid",
      "tensor parallelism (tpSize > 1) is not implemented yet; the loader slices, the step does not all-reduce",
    );
  const plan = planWeights(config, readModelTensors(opts.modelPath), { rank: tpRank, size: tpSize });
  const blockSize = optInt(opts.blockSize, 16, "blockSize", 1);
  const threads = optInt(opts.threads, availableParallelism(), "threads", 1);
  const kvDtype = opts.kvCacheDtype === undefined || opts.kvCacheDtype === "auto" ? "f32" : opts.kvCacheDtype;
  if (!(kvDtype in KV_BYTES))
    throw new EngineError(
      "options_invalid",
      `kvCacheDtype '${opts.kvCacheDtype}' must be auto, f32, f16 or bf16`,
    );
  const kvHeads = config.numKvHeads / tpSize;
  const bytesPerBlock = config.numLayers * 2 * kvHeads * blockSize * config.headDim * KV_BYTES[kvDtype];
  const minBlocks = Math.ceil(config.maxPositionEmbeddings / blockSize);
  let numBlocks: number;
  if (opts.kvCacheBlocks !== undefined) {
    numBlocks = optInt(opts.kvCacheBlocks, 0, "kvCacheBlocks", 1);
  } else {
    const frac = opts.memFractionStatic ?? 0.5;
    if (!(frac > 0 && frac <= 1))
      throw new EngineError("options_invalid", `memFractionStatic = ${frac} must be in (0, 1]`);
    const avail = memAvailable() ?? 4 * 1024 ** 3;
    numBlocks = Math.max(minBlocks, Math.floor((frac * avail - plan.weightBytes) / bytesPerBlock));
  }
  const simd = opts.simd ?? "auto";
  const addon = nativeAddon();
  let handle: NativeHandle;
  try {
    handle = await addon.createEngine({
      config: nativeConfig(config),
      tensors: plan.tensors,
      kvDtype,
      numBlocks,
      blockSize,
      threads,
      simd,
      tpRank,
      tpSize,
    });
  } catch (e) {
    throw new EngineError("model_invalid", `${opts.modelPath}: ${(e as Error).message}`, { cause: e });
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
    eosTokenIds: config.eosTokenIds,
  };
  return new NativeEngine(addon, handle, info);
}
