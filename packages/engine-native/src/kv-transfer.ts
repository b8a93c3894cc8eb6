/**
 * The native KV data plane, as TypeScript sees it: CRC-32C, memory regions that block exports and
 * imports target directly (a /dev/shm file mapping for `shm`, a receive buffer for `tcp`), and the
 * native tcp listener / connection. The transports in @radixserve/kv-transfer compose these with
 * Engine.exportBlocks / importBlocks over the sinks and sources of kv-io.ts, so KV bytes never pass through JS buffers on the
 * shm and tcp paths, and the checksum is computed natively in the same pass as the copy.
 *
 * Checksum: CRC-32C (Castagnoli; init and final xor 0xFFFFFFFF; crc32c("123456789") = 0xE3069283),
 * chainable: crc32c(b, crc32c(a)) = crc32c(a ++ b). SSE4.2 `crc32` where the CPU has it, tables
 * otherwise (`crc32cImpl()` says which).
 */
import { EngineError } from "./errors.js";
import { type NativeRegion, type NativeTcpConn, type NativeTcpListener, nativeAddon } from "./native.js";

/** CRC-32C of `data`, continuing from `previous` (0 to start). */
export function crc32c(data: Uint8Array, previous = 0): number {
  if (!(data instanceof Uint8Array)) throw new EngineError("input_invalid", "crc32c expects a Uint8Array");
  return nativeAddon().crc32c(data, previous >>> 0);
}

/** The table implementation (the reference the hardware path is tested against). */
export function crc32cTable(data: Uint8Array, previous = 0): number {
  return nativeAddon().crc32c(data, previous >>> 0, true);
}

/**
 * Copies `src` into `dst` (same length) with non-temporal stores and returns the CRC-32C of the
 * bytes, in one pass: the kernel of the direct shm path (exportBlocks to a pool sink), for tests and benches.
 */
export function crc32cCopyStreaming(dst: Uint8Array, src: Uint8Array): number {
  if (!(dst instanceof Uint8Array) || !(src instanceof Uint8Array) || dst.byteLength !== src.byteLength)
    throw new EngineError("input_invalid", "crc32cCopyStreaming expects two Uint8Arrays of one length");
  return nativeAddon().crc32cCopyStreaming(dst, src);
}

/** "sse4.2" or "table". */
export function crc32cImpl(): string {
  return nativeAddon().crc32cImpl();
}

function native<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new EngineError("native_failure", `${what}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Native memory that block exports write into and imports read from. close() is idempotent; an
 * export or import already running keeps the memory until it settles.
 */
/** Bytes of one fence slot (kv-transfer-pool.h RS_KV_FENCE_SLOT_BYTES). */
export const KV_FENCE_SLOT_BYTES = 16;

export class KvRegion {
  private closed = false;
  private constructor(
    /** @internal the addon's handle */
    readonly handle: NativeRegion,
    readonly size: number,
    readonly path: string,
  ) {}

  /**
   * Maps a shared-memory file. `create`: makes it (exclusive, mode 0600) with `size` bytes reserved
   * up front, so a full /dev/shm fails here rather than on a later write; with path
   * "memfd:<name>", an anonymous memory file instead (sparse: committed as written), which other
   * processes of the same user open at the region's `path` (/proc/<pid>/fd/<n>) while it is open.
   * Otherwise maps an existing file (`size` 0: its whole length); with `memfdName`, the file must be
   * the memory file of that name (checked on the descriptor opened) and is not populated up front.
   */
  static openShm(path: string, size: number, create: boolean, memfdName?: string): KvRegion {
    const h = native(`shm region ${path}`, () =>
      nativeAddon().regionOpenShm(path, size, create, memfdName ?? ""),
    );
    return new KvRegion(h, nativeAddon().regionSize(h), nativeAddon().regionPath(h));
  }

  /** Private anonymous memory (a staging buffer). */
  static alloc(size: number): KvRegion {
    const h = native("KV region", () => nativeAddon().regionAlloc(size));
    return new KvRegion(h, size, "");
  }

  /** @internal */
  static wrap(handle: NativeRegion, size: number): KvRegion {
    return new KvRegion(handle, size, "");
  }

  /** A copy of [offset, +length) (a JS consumer's fallback; the native paths never call it). */
  read(offset: number, length: number): Buffer {
    return native("KV region read", () => nativeAddon().regionRead(this.handle, offset, length));
  }

  /** Copies `data` in at `offset` (a JS producer's fallback). */
  write(offset: number, data: Uint8Array): void {
    native("KV region write", () => nativeAddon().regionWrite(this.handle, offset, data));
  }

  /**
   * D, on its fence file (KvFence): grants `generation` the right to write through slot `slot`
   * (see the pool sink's `fence` in Engine.exportBlocks). The previous generation of the slot loses it.
   */
  fenceOpen(slot: number, generation: number): void {
    native("KV fence open", () => nativeAddon().regionFenceOpen(this.handle, slot, generation));
  }

  /**
   * D: revokes `generation` of slot `slot`. Returns 0 when no write of that generation can happen
   * any more, else the pid of the writer that holds the slot now (-1 when not yet known): its
   * copy is in progress (or it stopped or died mid-copy), so the target blocks stay out of use.
   */
  fenceRevoke(slot: number, generation: number): number {
    return native("KV fence revoke", () => nativeAddon().regionFenceRevoke(this.handle, slot, generation));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    nativeAddon().regionClose(this.handle);
  }
}

/** One completed frame (or, with `error`, the end of a connection that did not deliver everything). */
export interface KvTcpProgress {
  key: string;
  frameOffset: number;
  frameLength: number;
  frameCrc: number;
  error: string;
}

/**
 * D's native tcp listener: an accept thread plus one thread per data connection, each reading its
 * frames straight into the transfer's region. `onProgress` runs on the JS thread.
 */
export class KvTcpListener {
  private open = true;
  /** Transfers expected and not cancelled: while any are, the listener keeps the event loop alive. */
  private readonly expected = new Set<string>();
  private constructor(
    /** @internal the addon's handle */
    readonly handle: NativeTcpListener,
    readonly port: number,
  ) {}

  /**
   * Listens on host:port (port 0, the default: a free one). With `authKey` (32 bytes) every data
   * connection must first pass the cluster-secret handshake (native/kv-transfer-auth.h) with the
   * same key; the others are dropped before their transfer key is looked up.
   */
  static listen(
    host: string,
    onProgress: (p: KvTcpProgress) => void,
    options: { port?: number; authKey?: Uint8Array } = {},
  ): KvTcpListener {
    const r = native(`tcp data plane on ${host}:${options.port ?? 0}`, () =>
      nativeAddon().tcpListen(
        host,
        options.port ?? 0,
        authKeyBuffer(options.authKey),
        (key, frameOffset, frameLength, frameCrc, error) =>
          onProgress({ key, frameOffset, frameLength, frameCrc, error }),
      ),
    );
    return new KvTcpListener(r.handle, r.port);
  }

  /** Connections dropped so far: a failed handshake, or a transfer key nobody expects. */
  get refusedConnections(): number {
    return this.open ? nativeAddon().tcpListenerRefused(this.handle) : 0;
  }

  /**
   * Registers a transfer of `size` bytes under `key` (32 hex digits): the connection presenting the
   * key writes them into [0, size) of `region` (at least `size` bytes; regions may be reused once a
   * transfer has completed).
   */
  expect(key: string, region: KvRegion, size: number): void {
    native("tcp expect", () => nativeAddon().tcpExpect(this.handle, key, region.handle, size));
    this.track(key);
  }

  /** @internal a transfer was registered (Engine.expectBlocksFrom): keep the loop alive for it. */
  track(key: string): void {
    this.expected.add(key);
    if (this.expected.size === 1) nativeAddon().tcpListenerRef(this.handle, true);
  }

  /** @internal */
  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Forgets the transfer and cuts its connection (idempotent). Returns once the connection thread
   * writes nothing more into the transfer's memory (its region or blocks may then be reused).
   */
  cancel(key: string): void {
    if (!this.open) return;
    nativeAddon().tcpCancel(this.handle, key);
    if (this.expected.delete(key) && this.expected.size === 0)
      nativeAddon().tcpListenerRef(this.handle, false);
  }

  /** Stops the listener and joins its threads. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.expected.clear();
    nativeAddon().tcpListenerClose(this.handle);
  }
}

/** P's end of one tcp data connection. */
export class KvTcpConnection {
  private closed = false;
  private constructor(
    /** @internal the addon's handle */
    readonly handle: NativeTcpConn,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Connects, runs the cluster-secret handshake when `authKey` is given, and presents `key`; rejects
   * with the socket error (refused, unreachable, timeout) or the failed handshake.
   */
  static async connect(
    host: string,
    port: number,
    key: string,
    timeoutMs: number,
    authKey?: Uint8Array,
  ): Promise<KvTcpConnection> {
    try {
      return new KvTcpConnection(
        await nativeAddon().tcpConnect(host, port, key, authKeyBuffer(authKey), timeoutMs),
      );
    } catch (e) {
      throw new EngineError("native_failure", (e as Error).message, { cause: e });
    }
  }

  /** Sends [sourceOffset, +length) of `source` as the frame at `frameOffset` of the transfer, off the JS thread. */
  async sendFrame(
    source: KvRegion,
    sourceOffset: number,
    length: number,
    frameOffset: number,
    crc: number,
  ): Promise<void> {
    if (this.closed) throw new EngineError("native_failure", "tcp connection is closed");
    try {
      await nativeAddon().tcpSendFrame(
        this.handle,
        source.handle,
        sourceOffset,
        length,
        frameOffset,
        crc >>> 0,
      );
    } catch (e) {
      throw new EngineError("native_failure", (e as Error).message, { cause: e });
    }
  }

  /** Graceful: bytes already queued still go. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    nativeAddon().tcpClose(this.handle);
  }
}

/**
 * Benchmark baseline: seconds a native sender thread takes to push `bytes` over loopback to a
 * receiver thread, in `chunk`-byte calls. `whole`: from and into transfer-sized buffers (memory to
 * memory, like a KV transfer); otherwise one chunk-sized buffer at each end (stays in cache).
 */
export function tcpRawLoopbackSeconds(bytes: number, chunk = 1 << 20, whole = true): number {
  return native("raw loopback", () => nativeAddon().tcpRawLoopback(bytes, chunk, whole));
}

function authKeyBuffer(key: Uint8Array | undefined): Buffer | undefined {
  if (key === undefined) return undefined;
  if (key.length !== 32) throw new EngineError("input_invalid", "a tcp auth key must be 32 bytes");
  return Buffer.from(key);
}
