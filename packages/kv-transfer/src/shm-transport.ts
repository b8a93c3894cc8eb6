/**
 * `shm`: same-host transfer through a file in /dev/shm (tmpfs: the pages are memory, nothing
 * touches a disk). D creates one file per transfer, sized for the blocks it expects, with its pages
 * reserved up front (a full /dev/shm fails here, never as a SIGBUS later), and offers its path plus
 * its host identity; P, when its own host identity matches, maps the same file. Both sides map it
 * natively (engine-native KvRegion): P's engine exports each chunk's blocks straight into the
 * mapping at the chunk's byte offset and D's engine imports straight from it, each computing the
 * CRC-32C in the same pass; only the location travels in KvChunk. No JS buffer holds the bytes.
 * When the identities differ (two machines) P falls back to inline gRPC bytes, and D's receiver
 * accepts those too.
 *
 * File lifetime: a file whose transfer completed goes back to D's pool (region-pool.ts, at most
 * `poolBytes` idle, default 512 MiB) and serves a later transfer of a similar size; P keeps its
 * mappings of the last few paths, so a reused file costs neither side a fresh map or page faults.
 * After a failure D unlinks the file at once (a stalled P might still write into it) and P drops
 * mappings whose file is gone. D unlinks its pooled files when it exits; a D killed with -9
 * cannot, and the next D on the host removes files whose owner pid is gone (sweepStaleFiles).
 * File names are never reused, so a path always names the same file.
 *
 * Direct mode (the default for decode workers, shm-direct.ts): when D's engine keeps its KV pool in
 * a shared memory file (attachPool), a transfer with reserved target blocks offers that pool
 * instead of a transfer file and P writes straight into D's blocks: one copy instead of two. The
 * per-transfer files above remain for a D whose pool is private (tp > 1, a device pool,
 * --disable-shm-direct).
 */
import { existsSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { KvTransferOffer } from "@radixserve/core";
import { getLogger, RadixServeError } from "@radixserve/core";
import { KvRegion, kvSink, kvSource } from "@radixserve/engine-native";
import { GrpcInlineSender, inlineReceiver, readInlineOr } from "./grpc-transport.js";
import { hostId } from "./host-id.js";
import type {
  KvBlockSink,
  KvBlockSource,
  KvChunkPayload,
  KvReceiver,
  KvReceiveTarget,
  KvSender,
  KvSentChunk,
  KvTransport,
} from "./kv-transport.js";
import { RegionPool, roundRegionSize } from "./region-pool.js";
import {
  DirectShmReceiver,
  DirectShmSender,
  FENCE_SUFFIX,
  isAlive,
  isPoolOffer,
  kvPoolName,
  memfdLink,
  ShmPoolTarget,
} from "./shm-direct.js";

const FILE_PREFIX = "radixserve-kv-";
const log = getLogger("transport");

export interface ShmTransportOptions {
  /** Directory of the transfer files. Default /dev/shm. */
  dir?: string;
  /** D: most bytes of idle transfer files kept for reuse. Default 512 MiB; 0 disables reuse. */
  poolBytes?: number;
  /**
   * P: how often mappings of files that went away (a decode worker exited, a transfer file was
   * removed) are dropped; their memory is freed only then. Default 2000 ms.
   */
  pruneMs?: number;
}

/** Mappings P keeps (most recently used paths). */
const SENDER_MAPPINGS = 16;

interface ShmFile {
  readonly size: number;
  readonly region: KvRegion;
  readonly path: string;
}

function removeFile(f: ShmFile): void {
  rmSync(f.path, { force: true });
  f.region.close();
}

class ShmReceiver implements KvReceiver {
  private closed = false;
  private completed = false;
  private readonly region: KvRegion;
  constructor(
    readonly offer: KvTransferOffer,
    private readonly file: ShmFile,
    /** Bytes of this transfer (the file may be larger: files are reused). */
    private readonly limit: number,
    /** Back to the pool (reusable) or unlinked. */
    private readonly release: (f: ShmFile, reusable: boolean) => void,
  ) {
    this.region = file.region;
  }

  private check(p: KvChunkPayload): void {
    if (this.closed) throw new Error("shm receiver is closed");
    if (p.offset < 0 || p.offset + p.byteLength > this.limit)
      throw new Error(`shm chunk [${p.offset}, +${p.byteLength}) is outside the ${this.limit}-byte transfer`);
  }

  read(payload: KvChunkPayload): Promise<Uint8Array> {
    return readInlineOr(payload, async (p) => {
      this.check(p);
      return this.region.read(p.offset, p.byteLength);
    });
  }

  async receiveBlocks(pool: KvBlockSink, blockIds: Int32Array, p: KvChunkPayload): Promise<number> {
    if (p.data.byteLength > 0) return pool.importBlocks(blockIds, kvSource.memory(p.data, 0));
    this.check(p);
    return pool.importBlocks(blockIds, kvSource.memory(this.region, p.offset));
  }

  complete(): void {
    this.completed = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release(this.file, this.completed);
  }
}

class ShmSender implements KvSender {
  readonly name = "shm" as const;
  private closed = false;
  /** The mapping belongs to the transport's cache: closing the sender keeps it. */
  constructor(private readonly region: KvRegion) {}

  /** Copies JS bytes into the mapping (callers without an engine; the workers use sendBlocks). */
  async write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload> {
    if (this.closed) throw new Error("shm sender is closed");
    this.region.write(byteOffset, data);
    return { data: new Uint8Array(0), offset: byteOffset, byteLength: data.byteLength };
  }

  async sendBlocks(pool: KvBlockSource, blockIds: Int32Array, byteOffset: number): Promise<KvSentChunk> {
    if (this.closed) throw new Error("shm sender is closed");
    const crc = await pool.exportBlocks(blockIds, kvSink.memory(this.region, byteOffset));
    return {
      payload: {
        data: new Uint8Array(0),
        offset: byteOffset,
        byteLength: blockIds.length * pool.info.bytesPerBlock,
      },
      crc,
    };
  }

  close(): void {
    this.closed = true;
  }
}

export class ShmKvTransport implements KvTransport {
  readonly name = "shm" as const;
  private readonly dir: string;
  private counter = 0;
  private swept = false;
  private warned = false;
  private exitHook = false;
  /** D: files of completed transfers, for reuse. */
  private readonly pool: RegionPool<ShmFile>;
  private readonly live = new Set<ShmFile>();
  /** P: mappings by path, least recently used first. */
  private readonly mapped = new Map<string, KvRegion>();
  /**
   * P: mappings of decode workers' pool and fence memory files, by path and name (few, long-lived;
   * dropped once the path no longer leads to that file: its decode worker exited).
   */
  private readonly pools = new Map<string, { path: string; link: string; region: KvRegion }>();
  private pruneTimer: NodeJS.Timeout | null = null;
  /** D: its engine's pool file, when the engine keeps the pool in shared memory (direct mode). */
  private poolTarget: ShmPoolTarget | null = null;

  private readonly pruneMs: number;

  constructor(opts: ShmTransportOptions = {}) {
    this.dir = opts.dir ?? "/dev/shm";
    this.pruneMs = opts.pruneMs ?? 2000;
    this.pool = new RegionPool<ShmFile>(opts.poolBytes ?? 512 * 1024 ** 2, (f) => {
      this.live.delete(f);
      removeFile(f);
    });
  }

  /** Unlinks every file this D created (pooled or in use); the process is going away. */
  close(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    this.pool.clear();
    for (const f of this.live) removeFile(f);
    this.live.clear();
    for (const r of this.mapped.values()) r.close();
    this.mapped.clear();
    for (const m of this.pools.values()) m.region.close();
    this.pools.clear();
    this.poolTarget?.close();
    this.poolTarget = null;
  }

  /**
   * D, before loading its engine: the `kvPoolShmPath` that puts the engine's KV pool in a fresh
   * shared memory file ("memfd:<name>"; direct mode).
   */
  poolSpec(): string {
    return `memfd:${kvPoolName()}`;
  }

  /**
   * D, after its engine loaded with `kvPoolShmPath: spec` (poolSpec()): transfers with reserved
   * target blocks now offer the pool itself (direct mode). `kvPoolPath` is the engine's
   * info.kvPoolPath. Creates the fence file.
   */
  attachPool(spec: string, kvPoolPath: string, numBlocks: number, bytesPerBlock: number): void {
    this.poolTarget = new ShmPoolTarget(
      spec.slice("memfd:".length),
      kvPoolPath,
      numBlocks * bytesPerBlock,
      bytesPerBlock,
    );
  }

  /** True when D offers its pool (direct mode). */
  get direct(): boolean {
    return this.poolTarget !== null;
  }

  private sweepOnce(): void {
    if (this.swept) return;
    this.swept = true;
    sweepStaleFiles(this.dir);
  }

  async init(): Promise<void> {
    if (!existsSync(this.dir))
      throw new RadixServeError(
        "not_implemented",
        `--kv-transport shm needs a shared-memory directory, and ${this.dir} does not exist; use --kv-transport grpc`,
      );
  }

  async openReceiver(_requestId: string, totalBytes: number, target?: KvReceiveTarget): Promise<KvReceiver> {
    this.sweepOnce();
    // Nothing to move (D holds every block): no file.
    if (totalBytes <= 0) return inlineReceiver();
    if (this.poolTarget && target) {
      const grant = this.poolTarget.take();
      if (grant) return new DirectShmReceiver(this.poolTarget, grant.slot, grant.generation, target.blockIds);
    }
    const file = this.pool.take(totalBytes) ?? this.createFile(totalBytes);
    if (!file) return inlineReceiver();
    this.live.add(file);
    return new ShmReceiver(
      { transport: "shm", shmPath: file.path, hostId: hostId() },
      file,
      totalBytes,
      (f, reusable) => {
        if (reusable) return this.pool.give(f);
        this.live.delete(f);
        removeFile(f);
      },
    );
  }

  /** A new transfer file (sized up to the pool's granule), or null when the directory refuses. */
  private createFile(totalBytes: number): ShmFile | null {
    if (!this.exitHook) {
      this.exitHook = true;
      process.once("exit", () => this.close());
    }
    // The request id is never used in the path: it is client-influenced text.
    const path = join(this.dir, `${FILE_PREFIX}${process.pid}-${++this.counter}`);
    const size = roundRegionSize(totalBytes);
    try {
      return { size, region: KvRegion.openShm(path, size, true), path };
    } catch (err) {
      // No room or no permission in the shm directory: this transfer's bytes go inline instead.
      // (openShm removes a file it created and could not size.)
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(
          `shm transport: cannot create ${path} (${(err as Error).message}); using inline bytes`,
        );
      }
      return null;
    }
  }

  async openSender(offer: KvTransferOffer, source?: KvBlockSource): Promise<KvSender> {
    if (offer.shmPoolPath) return this.directSender(offer, source);
    const path = offer.shmPath ?? "";
    // Another host, or a path outside our directory (never write where a peer points blindly).
    if (offer.hostId !== hostId() || !path.startsWith(join(this.dir, FILE_PREFIX)) || path.includes(".."))
      return new GrpcInlineSender();
    try {
      return new ShmSender(this.mapping(path));
    } catch {
      return new GrpcInlineSender();
    }
  }

  /**
   * P: a sender writing straight into D's pool, or inline bytes when this process cannot (another
   * host or user, a tp > 1 engine, an offer of the wrong shape, a file of another name or size).
   */
  private directSender(offer: KvTransferOffer, source?: KvBlockSource): KvSender {
    // An engine that cannot write a tp-1 pool's layout (tp > 1) sends inline.
    if (source && source.info.tpSize !== 1) return new GrpcInlineSender();
    const path = offer.shmPoolPath ?? "";
    const name = offer.shmPoolName ?? "";
    const fencePath = offer.fencePath ?? "";
    const bytes = Number(offer.shmPoolBytes ?? 0);
    if (offer.hostId !== hostId() || !isPoolOffer(name, path, fencePath)) return new GrpcInlineSender();
    try {
      const pool = this.poolMapping(path, name);
      if (pool.size !== bytes) {
        log.warn({ path, size: pool.size, offered: bytes }, "decode worker's pool has another size");
        return new GrpcInlineSender();
      }
      return new DirectShmSender(
        pool,
        {
          region: this.poolMapping(fencePath, name + FENCE_SUFFIX),
          slot: offer.fenceSlot ?? 0,
          generation: offer.fenceGeneration ?? 0,
        },
        Int32Array.from(offer.poolBlockIds ?? []),
      );
    } catch (err) {
      log.debug(
        { path, err: (err as Error).message },
        "cannot map the decode worker's pool; bytes go inline",
      );
      return new GrpcInlineSender();
    }
  }

  /**
   * P's mapping of the memory file `name` that D offers at `path` (/proc/<pid>/fd/<n>), kept while
   * the path still leads to it. Mappings whose decode worker is gone are dropped here.
   */
  private poolMapping(path: string, name: string): KvRegion {
    this.prune();
    const key = `${path}\n${name}`;
    let m = this.pools.get(key);
    if (!m) {
      m = { path, link: memfdLink(name), region: KvRegion.openShm(path, 0, false, name) };
      this.pools.set(key, m);
      this.schedulePrune();
    }
    return m.region;
  }

  /** P: mappings held now (decode workers' pools and fences, transfer files). */
  get mappedFiles(): number {
    return this.pools.size + this.mapped.size;
  }

  /** P: drops the mappings whose file is gone, so its memory goes back to the system. */
  private prune(): void {
    for (const [key, m] of this.pools)
      if (procLink(m.path) !== m.link) {
        m.region.close();
        this.pools.delete(key);
      }
    dropRemoved(this.mapped);
    if (this.mappedFiles === 0 && this.pruneTimer) {
      clearInterval(this.pruneTimer);
      this.pruneTimer = null;
    }
  }

  /** Checks the mappings now and then while there are any (a decode worker may exit at any time). */
  private schedulePrune(): void {
    if (this.pruneTimer) return;
    this.pruneTimer = setInterval(() => this.prune(), this.pruneMs);
    this.pruneTimer.unref();
  }

  /** P's mapping of `path`, reused while the file exists; mappings of removed files are dropped. */
  private mapping(path: string): KvRegion {
    dropRemoved(this.mapped);
    let r = this.mapped.get(path);
    if (r) this.mapped.delete(path);
    else r = KvRegion.openShm(path, 0, false);
    this.mapped.set(path, r); // most recent last
    this.schedulePrune();
    if (this.mapped.size > SENDER_MAPPINGS) {
      const [oldest, region] = this.mapped.entries().next().value as [string, KvRegion];
      region.close();
      this.mapped.delete(oldest);
    }
    return r;
  }
}

/** Removes transfer files left by processes that no longer exist (a decode worker killed -9). */
export function sweepStaleFiles(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(FILE_PREFIX)) continue;
    const pid = Number(name.slice(FILE_PREFIX.length).split("-")[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

/** Where a /proc/<pid>/fd/<n> link leads now ("" when nowhere: the process or descriptor is gone). */
function procLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** Closes and forgets the mappings whose file is gone (its owner removed it, or it was swept). */
function dropRemoved(mappings: Map<string, KvRegion>): void {
  for (const [p, r] of mappings)
    if (!existsSync(p)) {
      r.close();
      mappings.delete(p);
    }
}
