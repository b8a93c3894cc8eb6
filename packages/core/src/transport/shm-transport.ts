/**
 * `shm`: same-host transfer through a file in /dev/shm (tmpfs: the pages are memory, nothing
 * touches a disk). D creates one file per transfer, sized for the blocks it expects, and offers
 * its path plus its host identity; P, when its own host identity matches, writes each chunk at its
 * byte offset and sends only the location; D reads the range back for importBlocks. When the
 * identities differ (the workers are on two machines) P falls back to inline gRPC bytes, and D's
 * receiver accepts those too.
 *
 * File lifetime: D unlinks the file when the transfer ends, on every path. A D killed with -9
 * cannot; the next D on the host removes files whose owner pid is gone (sweepStaleFiles).
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { RadixServeError } from "../errors/radixserve-error.js";
import type { KvTransferOffer } from "../proto/generated/radixserve/worker/v1/KvTransferOffer.js";
import { GrpcInlineSender, inlineReceiver, readInlineOr } from "./grpc-transport.js";
import { hostId } from "./host-id.js";
import type { KvChunkPayload, KvReceiver, KvSender, KvTransport } from "./kv-transport.js";

const FILE_PREFIX = "radixserve-kv-";

export interface ShmTransportOptions {
  /** Directory of the transfer files. Default /dev/shm. */
  dir?: string;
}

class ShmReceiver implements KvReceiver {
  private closed = false;
  constructor(
    readonly offer: KvTransferOffer,
    private readonly file: FileHandle,
    private readonly path: string,
    private readonly size: number,
  ) {}

  read(payload: KvChunkPayload): Promise<Uint8Array> {
    return readInlineOr(payload, async (p) => {
      if (this.closed) throw new Error("shm receiver is closed");
      if (p.offset < 0 || p.offset + p.byteLength > this.size)
        throw new Error(`shm chunk [${p.offset}, +${p.byteLength}) is outside the ${this.size}-byte file`);
      const buf = Buffer.allocUnsafe(p.byteLength);
      const { bytesRead } = await this.file.read(buf, 0, p.byteLength, p.offset);
      if (bytesRead !== p.byteLength)
        throw new Error(`shm read ${bytesRead} of ${p.byteLength} bytes at ${p.offset}`);
      return buf;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    rmSync(this.path, { force: true });
    void this.file.close().catch(() => {});
  }
}

class ShmSender implements KvSender {
  readonly name = "shm" as const;
  private closed = false;
  private inline = false;
  constructor(private readonly file: FileHandle) {}

  /**
   * Writes the chunk into the file. When the file system refuses (a full /dev/shm: tmpfs reserves
   * nothing at truncate time), this and every later chunk of the transfer go inline instead; the
   * receiver reads both kinds.
   */
  async write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload> {
    if (this.closed) throw new Error("shm sender is closed");
    if (!this.inline) {
      try {
        const { bytesWritten } = await this.file.write(data, 0, data.byteLength, byteOffset);
        if (bytesWritten === data.byteLength)
          return { data: new Uint8Array(0), offset: byteOffset, byteLength: data.byteLength };
      } catch {
        // fall through to inline bytes
      }
      this.inline = true;
    }
    return { data, offset: byteOffset, byteLength: data.byteLength };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.file.close().catch(() => {});
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
    // The request id is never used in the path: it is client-influenced text.
    const path = join(this.dir, `${FILE_PREFIX}${process.pid}-${++this.counter}`);
    let file: FileHandle | null = null;
    try {
      file = await open(path, "w+", 0o600);
      await file.truncate(totalBytes);
    } catch (err) {
      // No room or no permission in the shm directory: this transfer's bytes go inline instead.
      await file?.close().catch(() => {});
      rmSync(path, { force: true });
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(
          `shm transport: cannot create ${path} (${(err as Error).message}); using inline bytes`,
        );
      }
      return inlineReceiver();
    }
    return new ShmReceiver({ transport: "shm", shmPath: path, hostId: hostId() }, file, path, totalBytes);
  }

  async openSender(offer: KvTransferOffer): Promise<KvSender> {
    const path = offer.shmPath ?? "";
    // Another host, or a path outside our directory (never write where a peer points blindly).
    if (offer.hostId !== hostId() || !path.startsWith(join(this.dir, FILE_PREFIX)) || path.includes(".."))
      return new GrpcInlineSender();
    try {
      return new ShmSender(await open(path, "r+"));
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
