/**
 * A small deterministic engine at the `Engine` seam, for scheduler unit tests only.
 * It keeps a token-id "KV pool": each step writes the tokens it runs into their block slots, and a
 * sampled token is a hash of every token READ BACK FROM THE POOL for positions 0..last. So a
 * scheduler that hands out a wrong block table, reuses a wrong cached block or frees a block too
 * early produces different tokens (or an "uninitialized KV" error) than a correct one.
 *
 * It also implements the engine's KV data plane over Buffers: exportBlocks / importBlocks with
 * memory sinks and sources over a Uint8Array (a block's bytes are its token slots, little-endian
 * int32), the CRC-32C computed like the native path, and no tcp registration (expectBlocksFrom is
 * false, as for a pool that is not host memory). Other sinks are refused.
 */
import { blockHashSeed } from "@radixserve/core";
import {
  crc32c,
  type Engine,
  EngineError,
  type KvSink,
  type KvSource,
  type ModelInfo,
  type StepOutput,
  type StepSequence,
} from "@radixserve/engine-native";

import type { SchedulerConfig } from "../src/scheduler/index.js";

/** Scheduler knobs for tests on the fake engine: blocks of 4 tokens, 64 of them, small chunks. */
export function fakeEngineConfig(seedName: string, over: Partial<SchedulerConfig> = {}): SchedulerConfig {
  return {
    blockSize: 4,
    numBlocks: 64,
    maxRunningRequests: 8,
    maxQueuedRequests: 16,
    chunkedPrefillSize: 5,
    maxPrefillTokens: 12,
    maxContextLength: 512,
    vocabSize: 1000,
    eosTokenIds: [2],
    enablePrefixCache: true,
    hashSeed: blockHashSeed(seedName),
    ...over,
  };
}

export class FakeEngine
  implements Pick<Engine, "step" | "exportBlocks" | "importBlocks" | "expectBlocksFrom" | "info">
{
  readonly pool: Int32Array;
  steps: StepSequence[][] = [];

  constructor(
    readonly numBlocks: number,
    readonly blockSize: number,
    readonly vocabSize: number,
    /** Tokens below this are never sampled (keeps EOS ids out unless a test wants them). */
    readonly minToken = 3,
  ) {
    this.pool = new Int32Array(numBlocks * blockSize).fill(-1);
  }

  /** The fields of ModelInfo the schedulers and transfer sessions read. */
  get info(): ModelInfo {
    return {
      blockSize: this.blockSize,
      numBlocks: this.numBlocks,
      bytesPerBlock: this.blockSize * 4,
      tpSize: 1,
      vocabSize: this.vocabSize,
    } as ModelInfo;
  }

  exportBlocks(blockIds: Int32Array): Promise<Buffer>;
  exportBlocks(blockIds: Int32Array, sink: KvSink): Promise<number>;
  async exportBlocks(blockIds: Int32Array, sink?: KvSink): Promise<Buffer | number> {
    const bytes = Buffer.alloc(blockIds.length * this.info.bytesPerBlock);
    blockIds.forEach((b, i) => {
      this.checkBlock(b);
      const slots = this.pool.subarray(b * this.blockSize, (b + 1) * this.blockSize);
      bytes.set(
        new Uint8Array(slots.buffer, slots.byteOffset, slots.byteLength),
        i * this.info.bytesPerBlock,
      );
    });
    if (!sink) return bytes;
    if (sink.kind !== "memory" || !(sink.target instanceof Uint8Array))
      throw new EngineError(
        "input_invalid",
        `fake engine: no ${sink.kind} sink, only memory over a Uint8Array`,
      );
    if (sink.offset + bytes.byteLength > sink.target.byteLength)
      throw new EngineError("input_invalid", "fake engine: the blocks do not fit the sink");
    sink.target.set(bytes, sink.offset);
    return crc32c(bytes);
  }

  async importBlocks(blockIds: Int32Array, data: Uint8Array | KvSource): Promise<number> {
    const len = blockIds.length * this.info.bytesPerBlock;
    let bytes: Uint8Array;
    if (data instanceof Uint8Array) bytes = data;
    else if (data.source instanceof Uint8Array) bytes = data.source.subarray(data.offset, data.offset + len);
    else throw new EngineError("input_invalid", "fake engine: only memory sources over a Uint8Array");
    if (bytes.byteLength !== len)
      throw new EngineError(
        "input_invalid",
        `fake engine: ${bytes.byteLength} bytes for ${blockIds.length} blocks`,
      );
    const slots = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + len));
    blockIds.forEach((b, i) => {
      this.checkBlock(b);
      this.pool.set(slots.subarray(i * this.blockSize, (i + 1) * this.blockSize), b * this.blockSize);
    });
    return crc32c(bytes);
  }

  expectBlocksFrom(): boolean {
    return false;
  }

  private checkBlock(b: number): void {
    if (!Number.isInteger(b) || b < 0 || b >= this.numBlocks)
      throw new EngineError("input_invalid", `fake engine: block id ${b} out of range`);
  }

  async step(seqs: StepSequence[]): Promise<(StepOutput | null)[]> {
    this.steps.push(seqs);
    await new Promise((r) => setImmediate(r));
    const bs = this.blockSize;
    const out: (StepOutput | null)[] = [];
    for (const s of seqs) {
      const end = s.startPos + s.tokens.length;
      if (s.blockTable.length < Math.ceil(end / bs))
        throw new Error(`block table of ${s.blockTable.length} blocks does not cover ${end} positions`);
      s.tokens.forEach((t, j) => {
        const pos = s.startPos + j;
        this.pool[s.blockTable[Math.floor(pos / bs)]! * bs + (pos % bs)] = t;
      });
      if (!s.sample) {
        out.push(null);
        continue;
      }
      let h = 0x12345;
      for (let pos = 0; pos < end; pos++) {
        const v = this.pool[s.blockTable[Math.floor(pos / bs)]! * bs + (pos % bs)]!;
        if (v < 0) throw new Error(`uninitialized KV at position ${pos}`);
        h = (Math.imul(h ^ v, 0x9e3779b1) + pos) | 0;
      }
      const token = this.minToken + ((h >>> 0) % (this.vocabSize - this.minToken));
      out.push({ token, logprob: -1 });
    }
    return out;
  }
}
