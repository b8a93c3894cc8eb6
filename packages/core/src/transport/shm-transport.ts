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
 * File lifetime: D unlinks the file when the transfer ends, on every path (P's mapping, if any,
 * goes with P's sender). A D killed with -9 cannot; the next D on the host removes files whose
 * owner pid is gone (sweepStaleFiles).
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { KvRegion } from "@radixserve/engine-native";
import { RadixServeError } from "../errors/radixserve-error.js";
import type { KvTransferOffer } from "../proto/generated/radixserve/worker/v1/KvTransferOffer.js";
import { GrpcInlineSender, inlineReceiver, readInlineOr } from "./grpc-transport.js";
import { hostId } from "./host-id.js";
import type {
  KvBlockSink,
  KvBlockSource,
  KvChunkPayload,
  KvReceiver,
  KvSender,
  KvSentChunk,
  KvTransport,
} from "./kv-transport.js";

const FILE_PREFIX = "radixserve-kv-";

export interface ShmTransportOptions {
  /** Directory of the transfer files. Default /dev/shm. */
  dir?: string;
}

class ShmReceiver implements KvReceiver {
  private closed = false;
  constructor(
    readonly offer: KvTransferOffer,
    private readonly region: KvRegion,
    private readonly path: string,
  ) {}

  private check(p: KvChunkPayload): void {
    if (this.closed) throw new Error("shm receiver is closed");
    if (p.offset < 0 || p.offset + p.byteLength > this.region.size)
      throw new Error(
        `shm chunk [${p.offset}, +${p.byteLength}) is outside the ${this.region.size}-byte file`,
      );
  }

  read(payload: KvChunkPayload): Promise<Uint8Array> {
    return readInlineOr(payload, async (p) => {
      this.check(p);
      return this.region.read(p.offset, p.byteLength);
    });
  }

  async receiveBlocks(pool: KvBlockSink, blockIds: Int32Array, p: KvChunkPayload): Promise<number> {
    if (p.data.byteLength > 0) return pool.importBlocksFrom(blockIds, p.data, 0);
    this.check(p);
    return pool.importBlocksFrom(blockIds, this.region, p.offset);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    rmSync(this.path, { force: true });
    this.region.close();
  }
}

class ShmSender implements KvSender {
  readonly name = "shm" as const;
  private closed = false;
  constructor(private readonly region: KvRegion) {}

  /** Copies JS bytes into the mapping (callers without an engine; the workers use sendBlocks). */
  async write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload> {
    if (this.closed) throw new Error("shm sender is closed");
    this.region.write(byteOffset, data);
    return { data: new Uint8Array(0), offset: byteOffset, byteLength: data.byteLength };
  }

  async sendBlocks(pool: KvBlockSource, blockIds: Int32Array, byteOffset: number): Promise<KvSentChunk> {
    if (this.closed) throw new Error("shm sender is closed");
    const crc = await pool.exportBlocksInto(blockIds, this.region, byteOffset);
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
    if (this.closed) return;
    this.closed = true;
    this.region.close();
  }
}

export class ShmKvTransport implements KvTransport {
  readonly name = "shm" as const;
  private readonly dir: string;
  private counter = 0;
  private swept = false;
  private warned = false;

  constructor(opts: ShmTransportOptions = {}) {
    this.dir = opts.dir ?? "/dev/shm";
  }

  async init(): Promise<void> {
    if (!existsSync(this.dir))
      throw new RadixServeError(
        "not_implemented",
        `--kv-transport shm needs a shared-memory directory, and ${this.dir} does not exist; use --kv-transport grpc`,
      );
  }

  async openReceiver(_requestId: string, totalBytes: number): Promise<KvReceiver> {
    if (!this.swept) {
      this.swept = true;
      sweepStaleFiles(this.dir);
    }
    // Nothing to move (D holds every block): no file.
    if (totalBytes <= 0) return inlineReceiver();
    // The request id is never used in the path: it is client-influenced text.
    const path = join(this.dir, `${FILE_PREFIX}${process.pid}-${++this.counter}`);
    let region: KvRegion;
    try {
      region = KvRegion.openShm(path, totalBytes, true);
    } catch (err) {
      // No room or no permission in the shm directory: this transfer's bytes go inline instead.
      // (openShm removes a file it created and could not size.)
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(
          `shm transport: cannot create ${path} (${(err as Error).message}); using inline bytes`,
        );
      }
      return inlineReceiver();
    }
    return new ShmReceiver({ transport: "shm", shmPath: path, hostId: hostId() }, region, path);
  }

  async openSender(offer: KvTransferOffer): Promise<KvSender> {
    const path = offer.shmPath ?? "";
    // Another host, or a path outside our directory (never write where a peer points blindly).
    if (offer.hostId !== hostId() || !path.startsWith(join(this.dir, FILE_PREFIX)) || path.includes(".."))
      return new GrpcInlineSender();
    try {
      return new ShmSender(KvRegion.openShm(path, 0, false));
    } catch {
      return new GrpcInlineSender();
    }
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
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
