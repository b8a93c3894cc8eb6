/**
 * The direct shm path: one copy from P's KV pool into D's. D's engine keeps its KV pool in an
 * anonymous shared memory file (loadEngine({ kvPoolShmPath: "memfd:<name>" }): committed as blocks
 * are written, like a private pool, and not bounded by /dev/shm's size); for each transfer D
 * offers the pool (/proc/<D's pid>/fd/<n> plus its name), the block ids it reserved (in transfer
 * order) and a fence slot; P maps the pool once and its engine writes every block of a chunk
 * straight into D's reserved block (Engine.exportBlocks to a pool sink: CRC-32C of the source in the same
 * pass, non-temporal stores). Only the chunk's location and CRC travel in KvChunk; D imports
 * nothing and trusts P's CRC (a readback would cost ~40% of the throughput; --kv-verify-imports
 * still reads every transfer back, for tests and audits).
 *
 * Why a fence: P writes into memory D will hand to other requests. D must never reuse the blocks
 * of a failed transfer while P could still write into them (a P whose export was queued behind a
 * prefill step when D's deadline fired, or a P that was SIGSTOPped mid-copy). Each transfer owns
 * a 16-byte slot in D's fence file (a second memory file); P's engine holds the slot (OPEN ->
 * WRITING) for exactly the duration of one export and gives it back after its stores are fenced.
 * When a transfer ends, D revokes the slot (OPEN -> REVOKED): from then on P's exports fail
 * without writing, so D may reuse the blocks at once. If the revoke finds WRITING, D keeps the
 * blocks quarantined until the writer gives the slot back or its process is gone (quiesce()).
 *
 * Identity: P opens /proc/<pid>/fd/<n> and checks, on the descriptor it got, that the file is the
 * memory file of the offered name (128 random bits), then its exact size; so a P never writes into
 * another process's file after a pid or descriptor was reused, nor into a pool of another
 * geometry (the engine also bounds every target block id by the file's size). Reaching another
 * process's descriptor needs the same user (ptrace read access): otherwise P sends inline bytes.
 */
import { randomBytes } from "node:crypto";
import type { KvTransferOffer } from "@radixserve/core";
import { getLogger } from "@radixserve/core";
import { KV_FENCE_SLOT_BYTES, KvRegion, kvSink, kvSource } from "@radixserve/engine-native";
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

/** Name prefix of D's KV pool memory files (`<prefix><32 hex>`; the fence file adds FENCE_SUFFIX). */
export const POOL_NAME_PREFIX = "radixserve-kvpool-";
export const FENCE_SUFFIX = ".fence";
const POOL_NAME = /^radixserve-kvpool-[0-9a-f]{32}$/;
const PROC_FD_PATH = /^\/proc\/\d+\/fd\/\d+$/;
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

/** A fresh, never-used name for a decode worker's KV pool memory file. */
export function kvPoolName(): string {
  return `${POOL_NAME_PREFIX}${randomBytes(16).toString("hex")}`;
}

/** True when `name` and `path` have the shapes a decode worker offers (P checks before opening). */
export function isPoolOffer(name: string, path: string, fencePath: string): boolean {
  return POOL_NAME.test(name) && PROC_FD_PATH.test(path) && PROC_FD_PATH.test(fencePath);
}

/** What /proc/<pid>/fd/<n> links to while it is the memory file `name`. */
export function memfdLink(name: string): string {
  return `/memfd:${name} (deleted)`;
}

/** D's pool as the direct path sees it: the engine's pool memory file, and the fence file. */
export class ShmPoolTarget {
  readonly fencePath: string;
  private readonly fence: KvRegion;
  private readonly freeSlots: number[] = [];
  private generation = 0;
  private closed = false;

  constructor(
    /** The pool memory file's name (kvPoolName()). */
    readonly poolName: string,
    /** Where other processes open it (the engine's info.kvPoolPath). */
    readonly poolPath: string,
    /** The file's exact size (numBlocks * bytesPerBlock). */
    readonly poolBytes: number,
    readonly bytesPerBlock: number,
  ) {
    this.fence = KvRegion.openShm(
      `memfd:${poolName}${FENCE_SUFFIX}`,
      FENCE_SLOTS * KV_FENCE_SLOT_BYTES,
      true,
    );
    this.fencePath = this.fence.path;
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
      shmPoolName: pool.poolName,
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
    if (p.data.byteLength > 0) return sink.importBlocks(ids, kvSource.memory(p.data, 0));
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
    if (src.info.tpSize !== 1)
      throw new Error(
        "this engine cannot write into another pool (tp > 1): open the sender with it (senderForOffer(offer, engine)) to get inline bytes",
      );
    const dst = this.dstIds.subarray(first, first + blockIds.length);
    const crc = await src.exportBlocks(blockIds, kvSink.pool(this.pool, dst, this.fence));
    return { payload: { data: new Uint8Array(0), offset: byteOffset, byteLength, crc32: crc }, crc };
  }

  close(): void {
    this.closed = true;
  }
}
