/**
 * `tcp`: the native framed data plane on its own TCP connection per transfer, beside the gRPC
 * control stream (Mooncake's split: control over RPC, bytes over a raw channel; the shape of an
 * RDMA transport: register memory, write into it, announce completions over the control channel).
 *
 * D listens once per process (engine-native KvTcpListener: an accept thread and a thread per data
 * connection). Each receiver registers a random 16-byte transfer key and offers `tcp_address` +
 * `transfer_key`; P connects natively and sends the key. Frames (kv-transfer-tcp.h):
 * [u64 LE offset][u32 LE length][u32 0][bytes][u32 LE CRC-32C], one per chunk, in order.
 *   - Host pools (CPU), the path the workers take: P's engine writes each chunk's blocks straight
 *     from its pool to the socket (Engine.exportBlocks to a tcp sink, checksumming each block just before it
 *     goes), and D's connection thread reads them straight into the reserved blocks
 *     (Engine.expectBlocksFrom), checksumming as they land and checking the trailer. D's
 *     receiveBlocks then only waits for the frame and returns its CRC. Zero user-space copies.
 *   - Otherwise (a JS caller with bytes, a pool in device memory): P exports into one of two
 *     alternating staging regions and a worker thread sends it; D receives into a receive region and
 *     imports from it (CRC-32C again, checked against the frame's).
 * No JS touches the bytes on either path.
 *
 * Deadlines: connecting and every send that makes no progress fail after `timeoutMs` (default 5 s);
 * D's transfer deadline closes the receiver, which cuts the connection and fails P's next send.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KvTransferOffer } from "@radixserve/core";
import { getLogger } from "@radixserve/core";
import {
  KvRegion,
  KvTcpConnection,
  KvTcpListener,
  type KvTcpProgress,
  kvSink,
  kvSource,
} from "@radixserve/engine-native";
import { kvCrc32 } from "./checksum.js";
import { GrpcInlineSender, inlineReceiver, readInlineOr } from "./grpc-transport.js";
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

const KEY_BYTES = 16;
/**
 * Chunk size of a tcp transfer. The bytes go on the data connection, not in the chunk message, so
 * a chunk costs only its control round trip (a KvChunk and an ack through grpc-js, ~0.5-1 ms of CPU
 * over both processes): 256 MiB moved at 0.73-0.78x of a raw socket in 4 MiB chunks, 0.84x in 16
 * MiB and 0.90-1.01x in 64 MiB ones (bench/disagg/transfer.ts). P still sends whatever blocks are
 * ready up to this, so the overlap with the prefill is unchanged. D's receive needs no buffer for it
 * (the bytes land in the reserved blocks; a device pool's receive region is sized per transfer).
 */
const TCP_CHUNK_BYTES = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;
const log = getLogger("transport");

export interface TcpTransportOptions {
  /** Address to listen on (the worker's --host). Default 127.0.0.1. */
  host?: string;
  /** Address P should dial; default `host` (or the hostname when host is a wildcard). */
  advertiseHost?: string;
  /** P: connect deadline, and the longest a send may make no progress. Default 5000 ms. */
  timeoutMs?: number;
  /** Most bytes of idle receive (D) or staging (P) regions kept for reuse. Default 512 MiB. */
  poolBytes?: number;
  /** D: the data plane's port (the decode worker's --kv-port). Default 0: a free port. */
  port?: number;
  /**
   * The cluster's data-plane key (ClusterSecret.kvAuthKey, 32 bytes): D's listener drops connections
   * that fail the handshake with it, P runs the handshake with it. Absent: no handshake.
   */
  authKey?: Uint8Array;
}

class TcpReceiver implements KvReceiver {
  readonly chunkBytes = TCP_CHUNK_BYTES;
  /** Bytes of complete frames (frames arrive in offset order). */
  private received = 0;
  /** CRC-32C P put in each frame header, by byte offset (checked against the import's). */
  private readonly frameCrcs = new Map<number, { length: number; crc: number }>();
  private failed: Error | null = null;
  private waiters: { end: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;
  private completed = false;

  constructor(
    readonly offer: KvTransferOffer,
    /** The receive region, or null when the bytes land straight in `direct.blockIds`. */
    private readonly region: KvRegion | null,
    /** Bytes of this transfer (the region may be larger: regions are reused). */
    private readonly limit: number,
    /** Cuts the connection (synchronously: nothing is written after), then recycles or frees the region. */
    private readonly release: (region: KvRegion | null, reusable: boolean) => void,
    private readonly direct: { blockIds: Int32Array; bytesPerBlock: number } | null = null,
  ) {}

  /** The listener reports a completed frame, or the end of a connection that fell short. */
  progress(p: KvTcpProgress): void {
    if (p.error) {
      this.fail(new Error(p.error));
      return;
    }
    this.frameCrcs.set(p.frameOffset, { length: p.frameLength, crc: p.frameCrc });
    this.received = p.frameOffset + p.frameLength;
    this.waiters = this.waiters.filter((w) => {
      if (w.end > this.received) return true;
      w.resolve();
      return false;
    });
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }

  /** Resolves once the bytes of [offset, +length) have landed in the region. */
  private async arrived(p: KvChunkPayload): Promise<void> {
    const end = p.offset + p.byteLength;
    if (p.offset < 0 || end > this.limit)
      throw new Error(`tcp chunk [${p.offset}, +${p.byteLength}) is outside the ${this.limit}-byte transfer`);
    if (this.failed) throw this.failed;
    if (end > this.received)
      await new Promise<void>((resolve, reject) => this.waiters.push({ end, resolve, reject }));
  }

  read(payload: KvChunkPayload): Promise<Uint8Array> {
    return readInlineOr(payload, async (p) => {
      await this.arrived(p);
      if (!this.region) throw new Error("this tcp receiver delivers into KV blocks: use receiveBlocks");
      return this.region.read(p.offset, p.byteLength);
    });
  }

  async receiveBlocks(pool: KvBlockSink, blockIds: Int32Array, p: KvChunkPayload): Promise<number> {
    if (p.data.byteLength > 0) return pool.importBlocks(blockIds, kvSource.memory(p.data, 0));
    if (this.direct) return this.landed(blockIds, p);
    await this.arrived(p);
    if (!this.region) throw new Error("tcp receiver has no region");
    const crc = await pool.importBlocks(blockIds, kvSource.memory(this.region, p.offset));
    const frame = this.frameCrcs.get(p.offset);
    this.frameCrcs.delete(p.offset);
    if (frame && frame.length === p.byteLength && frame.crc !== crc)
      throw new Error(
        `tcp frame at ${p.offset}: CRC-32C ${crc} of the bytes, ${frame.crc} in the frame header`,
      );
    return crc;
  }

  /**
   * Direct mode: the connection thread already wrote the chunk into the reserved blocks and
   * checksummed it (the frame's trailer matched); the chunk must name exactly those blocks.
   */
  private async landed(blockIds: Int32Array, p: KvChunkPayload): Promise<number> {
    const { blockIds: mine, bytesPerBlock } = this.direct!;
    const first = p.offset / bytesPerBlock;
    const same =
      Number.isInteger(first) &&
      p.byteLength === blockIds.length * bytesPerBlock &&
      blockIds.every((b, i) => mine[first + i] === b);
    if (!same)
      throw new Error(
        `tcp chunk [${p.offset}, +${p.byteLength}) does not name the blocks it was received into`,
      );
    await this.arrived(p);
    const frame = this.frameCrcs.get(p.offset);
    this.frameCrcs.delete(p.offset);
    if (!frame || frame.length !== p.byteLength)
      throw new Error(`tcp chunk [${p.offset}, +${p.byteLength}) does not match a received frame`);
    return frame.crc;
  }

  complete(): void {
    this.completed = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error("tcp receiver closed"));
    this.release(this.region, this.completed);
  }
}

interface Staging {
  region: KvRegion | null;
  inflight: Promise<void>;
}

class TcpSender implements KvSender {
  readonly name = "tcp" as const;
  readonly pipelined = true;
  readonly maxChunkBytes = TCP_CHUNK_BYTES;
  private closed = false;
  private error: Error | null = null;
  private readonly staging: Staging[] = [
    { region: null, inflight: Promise.resolve() },
    { region: null, inflight: Promise.resolve() },
  ];
  private turn = 0;
  /**
   * Settles once every frame issued so far is on the wire. Frames go out one after another on the
   * one socket (two concurrent sends would interleave bytes): a staged frame starts after it.
   */
  private sending: Promise<void> = Promise.resolve();
  /**
   * Staging calls run one at a time, in call order (a pipelined caller may overlap its calls; two
   * at once could pick the same region). A call ends once its frame is launched, so the next one
   * fills the other region while that frame goes.
   */
  private stagingTurn: Promise<unknown> = Promise.resolve();
  /** Settles once the last staging call's frame is on the wire: frames straight from a pool wait for it. */
  private staged: Promise<void> | null = null;

  constructor(
    private readonly conn: KvTcpConnection,
    private readonly pool: RegionPool<KvRegion>,
  ) {}

  /** The next staging region, once its previous frame is on the wire, at least `len` bytes. */
  private async slot(len: number): Promise<Staging & { region: KvRegion }> {
    const s = this.staging[this.turn++ % this.staging.length]!;
    await s.inflight;
    this.check();
    if (!s.region || s.region.size < len) {
      if (s.region) this.pool.give(s.region);
      s.region = this.pool.take(len) ?? KvRegion.alloc(roundRegionSize(len));
    }
    return s as Staging & { region: KvRegion };
  }

  private check(): void {
    if (this.closed) throw new Error("tcp sender is closed");
    if (this.error) throw this.error;
  }

  /** Starts the frame's send on a worker thread, after the frames before it; its failure surfaces on the next call. */
  private launch(s: Staging & { region: KvRegion }, len: number, offset: number, crc: number): Promise<void> {
    const region = s.region;
    const sent = this.sending.then(() =>
      this.error
        ? undefined
        : this.conn.sendFrame(region, 0, len, offset, crc).catch((e: Error) => {
            this.error ??= e;
          }),
    );
    this.sending = sent;
    s.inflight = sent;
    return sent;
  }

  /** Runs a staging call in turn (see stagingTurn) and gates later frames on its frame. */
  private inTurn(f: () => Promise<KvSentChunk & { sent: Promise<void> }>): Promise<KvSentChunk> {
    const run = this.stagingTurn.then(f);
    this.stagingTurn = run.catch(() => undefined);
    const gate = run.then(
      (r) => r.sent,
      () => undefined,
    );
    this.staged = gate;
    void gate.then(() => {
      if (this.staged === gate) this.staged = null;
    });
    return run.then(({ payload, crc }) => ({ payload, crc }));
  }

  async write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload> {
    const { payload } = await this.inTurn(async () => {
      this.check();
      const len = data.byteLength;
      const s = await this.slot(len);
      s.region.write(0, data);
      const crc = kvCrc32(data);
      return { payload: frameAt(byteOffset, len), crc, sent: this.launch(s, len, byteOffset, crc) };
    });
    return payload;
  }

  async sendBlocks(pool: KvBlockSource, blockIds: Int32Array, byteOffset: number): Promise<KvSentChunk> {
    this.check();
    const len = blockIds.length * pool.info.bytesPerBlock;
    // Straight from the pool to the socket (a tcp sink). The engine keeps a connection's frames in
    // call order, so the frame is handed over at once, while earlier ones are still going (they
    // complete in order: this one settling means they all have); only a staged frame still pending
    // must go first.
    const send = () => pool.exportBlocks(blockIds, kvSink.tcp(this.conn, byteOffset));
    const sent = this.staged ? this.staged.then(send) : send();
    this.sending = sent.then(
      () => undefined,
      (e: Error) => {
        this.error ??= e;
      },
    );
    return { payload: frameAt(byteOffset, len), crc: await sent };
  }

  /**
   * Frames already queued still go (they hold the memory and the socket); the staging regions go
   * back to the pool once the last of them is on the wire.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
    void this.sending.then(() => {
      for (const s of this.staging) if (s.region) this.pool.give(s.region);
    });
  }
}

/** KvChunk's payload for a frame: the bytes travel on the data connection, not in the message. */
function frameAt(offset: number, byteLength: number): KvChunkPayload {
  return { data: new Uint8Array(0), offset, byteLength };
}

export class TcpKvTransport implements KvTransport {
  readonly name = "tcp" as const;
  private listener: KvTcpListener | null = null;
  private address = "";
  private readonly receivers = new Map<string, TcpReceiver>();
  /** D: receive regions; P: staging regions (region-pool.ts). */
  private readonly pool: RegionPool<KvRegion>;

  constructor(private readonly opts: TcpTransportOptions = {}) {
    this.pool = new RegionPool<KvRegion>(opts.poolBytes ?? 512 * 1024 ** 2, (r) => r.close());
  }

  async init(): Promise<void> {
    if (this.listener) return;
    const host = this.opts.host ?? "127.0.0.1";
    const listener = KvTcpListener.listen(host, (p) => this.receivers.get(p.key)?.progress(p), {
      port: this.opts.port ?? 0,
      ...(this.opts.authKey ? { authKey: this.opts.authKey } : {}),
    });
    const wildcard = host === "0.0.0.0" || host === "::";
    const adv = this.opts.advertiseHost ?? (wildcard ? hostname() : host);
    this.address = adv.includes(":") ? `[${adv}]:${listener.port}` : `${adv}:${listener.port}`;
    this.listener = listener;
  }

  async openReceiver(_requestId: string, totalBytes: number, target?: KvReceiveTarget): Promise<KvReceiver> {
    if (!this.listener) await this.init();
    if (totalBytes <= 0) return inlineReceiver(); // nothing to move
    const listener = this.listener!;
    const key = randomBytes(KEY_BYTES).toString("hex");
    const offer = { transport: "tcp", tcpAddress: this.address, transferKey: key };
    const bpb = target?.pool.info.bytesPerBlock ?? 0;
    if (target && target.blockIds.length * bpb === totalBytes) {
      // Straight into the reserved blocks (the engine's pool is host memory).
      if (target.pool.expectBlocksFrom(listener, key, target.blockIds)) {
        const r = new TcpReceiver(
          offer,
          null,
          totalBytes,
          () => {
            this.receivers.delete(key);
            listener.cancel(key); // returns once the connection thread writes no more
          },
          { blockIds: target.blockIds, bytesPerBlock: bpb },
        );
        this.receivers.set(key, r);
        return r;
      }
    }
    const region = this.pool.take(totalBytes) ?? KvRegion.alloc(roundRegionSize(totalBytes));
    try {
      listener.expect(key, region, totalBytes);
    } catch (err) {
      region.close();
      throw err;
    }
    const r = new TcpReceiver(offer, region, totalBytes, (reg, reusable) => {
      this.receivers.delete(key);
      listener.cancel(key); // returns once the connection thread writes no more
      if (reusable) this.pool.give(reg!);
      else reg!.close();
    });
    this.receivers.set(key, r);
    return r;
  }

  async openSender(offer: KvTransferOffer): Promise<KvSender> {
    const address = offer.tcpAddress ?? "";
    const key = offer.transferKey ?? "";
    const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(address);
    if (!m || !/^[0-9a-f]{32}$/i.test(key)) return new GrpcInlineSender();
    try {
      const conn = await KvTcpConnection.connect(
        m[1]!,
        Number(m[2]),
        key,
        this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        this.opts.authKey,
      );
      return new TcpSender(conn, this.pool);
    } catch (err) {
      // D's data plane is unreachable (firewall, wrong advertise address) or failed the handshake:
      // the bytes go inline on the (authenticated) control stream instead, which D accepts; say so,
      // since it costs throughput.
      log.warn(
        { address, error: (err as Error).message },
        "tcp data plane unreachable or refused; sending KV inline",
      );
      return new GrpcInlineSender();
    }
  }

  /** Stops the listener (tests; a worker keeps it for its lifetime). */
  close(): void {
    for (const r of [...this.receivers.values()]) r.close();
    this.listener?.close();
    this.listener = null;
    this.pool.clear();
  }
}
