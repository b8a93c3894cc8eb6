/**
 * The direct shm path: one copy from P's KV pool into D's. D's engine keeps its KV pool in a
 * /dev/shm file (loadEngine({ kvPoolShmPath })); for each transfer D offers that file, the block
 * ids it reserved (in transfer order) and a fence slot; P maps the file once and its engine writes
 * every block of a chunk straight into D's reserved block (Engine.exportBlocksToPool: CRC-32C of
 * the source in the same pass, non-temporal stores). Only the chunk's location and CRC travel in
 * KvChunk; D imports nothing and trusts P's CRC (a readback would cost ~40% of the throughput;
 * --kv-verify-imports still reads every transfer back, for tests and audits).
 *
 * Why a fence: P writes into memory D will hand to other requests. D must never reuse the blocks
 * of a failed transfer while P could still write into them (a P whose export was queued behind a
 * prefill step when D's deadline fired, or a P that was SIGSTOPped mid-copy). Each transfer owns
 * a 16-byte slot in D's fence file (`<pool>.fence`); P's engine holds the slot (OPEN -> WRITING)
 * for exactly the duration of one export and gives it back after its stores are fenced. When a
 * transfer ends, D revokes the slot (OPEN -> REVOKED): from then on P's exports fail without
 * writing, so D may reuse the blocks at once. If the revoke finds WRITING, D keeps the blocks
 * quarantined until the writer gives the slot back or its process is gone (quiesce()).
 *
 * Identity: the pool file's name carries 128 random bits and P checks its exact size, so a P
 * never writes into a same-named file of another mount namespace or into a pool of another
 * geometry (the engine also bounds every target block id by the file's size).
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { KV_FENCE_SLOT_BYTES, KvRegion } from "@radixserve/engine-native";
import { getLogger } from "../log/index.js";
import type { KvTransferOffer } from "../proto/generated/radixserve/worker/v1/KvTransferOffer.js";
import { readInlineOr } from "./grpc-transport.js";
import { hostId } from "./host-id.js";
import type {
  KvBlockSink,
  KvBlockSource,
  KvChunkPayload,
  KvReceiver,
  KvSender,
  KvSentChunk,
} from "./kv-transport.js";

const log = getLogger("transport");

/** File name prefix of D's KV pool files in the shm directory (`<prefix><pid>-<32 hex>`). */
export const POOL_FILE_PREFIX = "radixserve-kvpool-";
export const FENCE_SUFFIX = ".fence";
/** Direct transfers one D can have in flight (more fall back to the two-copy path). */
export const FENCE_SLOTS = 4096;
/**
 * Chunk size of a direct transfer. Nothing rides the stream but the chunk's location, so the
 * per-chunk control round trip is the only cost of a chunk: 256 MiB moved 0.32x of memcpy in 4 MiB
 * chunks and 0.50x in 32 MiB ones (bench/disagg/transfer.ts). Overlap with the prefill is kept:
 * P sends whatever blocks are ready, up to this.
 */
export const DIRECT_CHUNK_BYTES = 256 * 1024 * 1024;
/** How often a quiescing receiver looks at its slot again. */
const QUIESCE_POLL_MS = 5;

/** A fresh, never-used path for a decode worker's KV pool file. */
export function kvPoolFilePath(dir = "/dev/shm"): string {
  return join(dir, `${POOL_FILE_PREFIX}${process.pid}-${randomBytes(16).toString("hex")}`);
}

/** D's pool as the direct path sees it: the file the engine created, and its fence file. */
export class ShmPoolTarget {
  readonly fencePath: string;
  private readonly fence: KvRegion;
  private readonly freeSlots: number[] = [];
  private generation = 0;
  private closed = false;

  constructor(
    readonly poolPath: string,
    /** The file's exact size (numBlocks * bytesPerBlock). */
    readonly poolBytes: number,
    readonly bytesPerBlock: number,
  ) {
    this.fencePath = poolPath + FENCE_SUFFIX;
    this.fence = KvRegion.openShm(this.fencePath, FENCE_SLOTS * KV_FENCE_SLOT_BYTES, true);
    for (let s = FENCE_SLOTS - 1; s >= 0; s--) this.freeSlots.push(s);
  }

  /** A slot opened for a new generation, or null when every slot is in use. */
  take(): { slot: number; generation: number } | null {
    const slot = this.freeSlots.pop();
    if (slot === undefined) return null;
    this.generation = (this.generation + 1) >>> 0 || 1;
    this.fence.fenceOpen(slot, this.generation);
    return { slot, generation: this.generation };
  }

  /** 0 when nothing of `generation` can write through `slot` any more, else the writer's pid. */
  revoke(slot: number, generation: number): number {
    // Closed: the worker is stopping and its pool goes away with it; nothing is reused.
    if (this.closed) return 0;
    return this.fence.fenceRevoke(slot, generation);
  }

  give(slot: number): void {
    this.freeSlots.push(slot);
  }

  /** Slots in use (transfers that may still be written into). */
  get busySlots(): number {
    return FENCE_SLOTS - this.freeSlots.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    rmSync(this.fencePath, { force: true });
    this.fence.close();
  }
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** D's half of one direct transfer. */
export class DirectShmReceiver implements KvReceiver {
  readonly offer: KvTransferOffer;
  readonly chunkBytes = DIRECT_CHUNK_BYTES;
  private quiesced: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly pool: ShmPoolTarget,
    private readonly slot: number,
    private readonly generation: number,
    /** The reserved blocks, in transfer order. */
    private readonly blockIds: Int32Array,
  ) {
    this.offer = {
      transport: "shm",
      hostId: hostId(),
      shmPoolPath: pool.poolPath,
      shmPoolBytes: pool.poolBytes,
      poolBlockIds: Array.from(blockIds),
      fencePath: pool.fencePath,
      fenceSlot: slot,
      fenceGeneration: generation,
    };
  }

  read(payload: KvChunkPayload): Promise<Uint8Array> {
    return readInlineOr(payload, async () => {
      throw new Error("a direct shm chunk is already in the KV pool: it has no bytes to read");
    });
  }

  /**
   * Inline bytes (P could not map the pool) are imported as usual. A direct chunk is already in
   * the blocks: check that it names exactly the blocks D expects at its offset, and return P's CRC.
   */
  async receiveBlocks(sink: KvBlockSink, ids: Int32Array, p: KvChunkPayload): Promise<number> {
    if (this.closed) throw new Error("shm receiver is closed");
    if (p.data.byteLength > 0) return sink.importBlocksFrom(ids, p.data, 0);
    const bpb = this.pool.bytesPerBlock;
    const first = p.offset / bpb;
    if (
      !Number.isInteger(first) ||
      p.byteLength !== ids.length * bpb ||
      first + ids.length > this.blockIds.length ||
      ids.some((id, i) => id !== this.blockIds[first + i])
    )
      throw new Error(
        `direct shm chunk [${p.offset}, +${p.byteLength}) does not match the reserved blocks it announces`,
      );
    if (p.crc32 === undefined) throw new Error("direct shm chunk without the sender's CRC");
    return p.crc32;
  }

  /**
   * Resolves once P can no longer write into the reserved blocks: at once when the revoke finds
   * no export in progress (the usual case, and always after a completed transfer), else when the
   * writer gives the slot back or its process is gone. Until then D must keep the blocks.
   */
  quiesce(): Promise<void> {
    this.quiesced ??= new Promise<void>((resolve) => {
      const started = Date.now();
      let warned = false;
      const attempt = () => {
        const writer = this.pool.revoke(this.slot, this.generation);
        if (writer === 0 || (writer > 0 && !isAlive(writer))) return resolve();
        if (!warned && Date.now() - started > 1000) {
          warned = true;
          log.warn(
            { writerPid: writer, slot: this.slot },
            "a prefill worker is stopped in the middle of writing into this worker's KV pool; its blocks stay quarantined until it finishes or exits",
          );
        }
        setTimeout(attempt, QUIESCE_POLL_MS);
      };
      attempt();
    });
    return this.quiesced;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.quiesce().then(() => this.pool.give(this.slot));
  }
}

/** P's half of one direct transfer: exports straight into D's pool under D's fence slot. */
export class DirectShmSender implements KvSender {
  readonly name = "shm" as const;
  readonly maxChunkBytes = DIRECT_CHUNK_BYTES;
  private closed = false;

  constructor(
    private readonly pool: KvRegion,
    private readonly fence: { region: KvRegion; slot: number; generation: number },
    /** D's reserved blocks in transfer order. */
    private readonly dstIds: Int32Array,
  ) {}

  /** JS bytes (a caller without an engine) travel inline. */
  async write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload> {
    if (this.closed) throw new Error("shm sender is closed");
    return { data, offset: byteOffset, byteLength: data.byteLength };
  }

  async sendBlocks(src: KvBlockSource, blockIds: Int32Array, byteOffset: number): Promise<KvSentChunk> {
    if (this.closed) throw new Error("shm sender is closed");
    const bpb = src.info.bytesPerBlock;
    const byteLength = blockIds.length * bpb;
    const first = byteOffset / bpb;
    if (!Number.isInteger(first) || first + blockIds.length > this.dstIds.length)
      throw new Error(
        `chunk [${byteOffset}, +${byteLength}) is outside the ${this.dstIds.length} blocks D reserved`,
      );
    if (!src.exportBlocksToPool || src.info.tpSize !== 1) {
      // This engine cannot write another pool's layout (tp > 1): the bytes go inline.
      const data = Buffer.allocUnsafe(byteLength);
      const crc = await src.exportBlocksInto(blockIds, data, 0);
      return { payload: { data, offset: byteOffset, byteLength }, crc };
    }
    const dst = this.dstIds.subarray(first, first + blockIds.length);
    const crc = await src.exportBlocksToPool(blockIds, this.pool, dst, this.fence);
    return { payload: { data: new Uint8Array(0), offset: byteOffset, byteLength, crc32: crc }, crc };
  }

  close(): void {
    this.closed = true;
  }
}
