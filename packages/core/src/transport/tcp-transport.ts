/**
 * `tcp`: a framed data plane on its own TCP connection per transfer, beside the gRPC control
 * stream (Mooncake's split: control over RPC, bytes over a raw channel). D listens once per
 * process; each receiver registers a random transfer key and offers `tcp_address` + `transfer_key`.
 * P connects, sends the key, then one frame per chunk: [u64 LE byte offset][u32 LE length][bytes],
 * straight from the exported buffer (no protobuf encoding, no HTTP/2 framing). D copies each
 * frame into a buffer of its own; read() resolves with it once it has arrived (frames arrive in
 * order on one connection; the KvChunk control message may overtake them).
 *
 * This is the TypeScript data plane (Node `net`). The shape matches an RDMA transport: register
 * a memory region, write into it, announce completions over the control channel.
 */
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import type { KvTransferOffer } from "../proto/generated/radixserve/worker/v1/KvTransferOffer.js";
import { GrpcInlineSender, readInlineOr } from "./grpc-transport.js";
import type { KvChunkPayload, KvReceiver, KvSender, KvTransport } from "./kv-transport.js";

const KEY_BYTES = 16;
const HEADER = 12;

export interface TcpTransportOptions {
  /** Address to listen on (the worker's --host). Default 127.0.0.1. */
  host?: string;
  /** Address P should dial; default `host` (or the hostname when host is a wildcard). */
  advertiseHost?: string;
}

class TcpReceiver implements KvReceiver {
  /** Bytes of complete frames (frames arrive in offset order). */
  received = 0;
  /** Complete frames not read yet, by byte offset. One buffer per frame: no transfer-sized allocation. */
  readonly frames = new Map<number, Buffer>();
  socket: Socket | null = null;
  failed: Error | null = null;
  private waiters: { end: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  constructor(
    readonly offer: KvTransferOffer,
    readonly size: number,
    private readonly onClose: () => void,
  ) {}

  /** Frames have landed up to `received`: wake the readers whose range is complete. */
  progress(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.end > this.received) return true;
      w.resolve();
      return false;
    });
  }

  fail(err: Error): void {
    this.failed = err;
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }

  read(payload: KvChunkPayload): Promise<Uint8Array> {
    return readInlineOr(payload, async (p) => {
      const end = p.offset + p.byteLength;
      if (p.offset < 0 || end > this.size)
        throw new Error(
          `tcp chunk [${p.offset}, +${p.byteLength}) is outside the ${this.size}-byte transfer`,
        );
      if (this.failed) throw this.failed;
      if (end > this.received)
        await new Promise<void>((resolve, reject) => this.waiters.push({ end, resolve, reject }));
      const frame = this.frames.get(p.offset);
      if (!frame || frame.length !== p.byteLength)
        throw new Error(`tcp chunk [${p.offset}, +${p.byteLength}) does not match a received frame`);
      this.frames.delete(p.offset);
      return frame;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error("tcp receiver closed"));
    this.socket?.destroy();
    this.onClose();
  }
}

class TcpSender implements KvSender {
  readonly name = "tcp" as const;
  private closed = false;
  private error: Error | null = null;
  constructor(private readonly socket: Socket) {
    socket.on("error", (err) => {
      this.error = err;
    });
  }

  /**
   * Queues the frame and resolves at once: the socket keeps `data` alive until it is written, and
   * the transfer's window (unacked chunks) bounds what can queue. Waiting for each write's flush
   * would idle the sender while the kernel drains (half the throughput on loopback).
   */
  async write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload> {
    if (this.closed) throw new Error("tcp sender is closed");
    if (this.error) throw this.error;
    const header = Buffer.allocUnsafe(HEADER);
    header.writeBigUInt64LE(BigInt(byteOffset), 0);
    header.writeUInt32LE(data.byteLength, 8);
    this.socket.cork();
    this.socket.write(header);
    this.socket.write(data);
    this.socket.uncork();
    return { data: new Uint8Array(0), offset: byteOffset, byteLength: data.byteLength };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
  }
}

export class TcpKvTransport implements KvTransport {
  readonly name = "tcp" as const;
  private server: Server | null = null;
  private address = "";
  private readonly receivers = new Map<string, TcpReceiver>();

  constructor(private readonly opts: TcpTransportOptions = {}) {}

  async init(): Promise<void> {
    const host = this.opts.host ?? "127.0.0.1";
    const server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve());
    });
    server.unref();
    const port = (server.address() as { port: number }).port;
    const wildcard = host === "0.0.0.0" || host === "::";
    const adv = this.opts.advertiseHost ?? (wildcard ? hostname() : host);
    this.address = adv.includes(":") ? `[${adv}]:${port}` : `${adv}:${port}`;
    this.server = server;
  }

  async openReceiver(_requestId: string, totalBytes: number): Promise<KvReceiver> {
    if (!this.server) await this.init();
    const key = randomBytes(KEY_BYTES).toString("hex");
    const r = new TcpReceiver(
      { transport: "tcp", tcpAddress: this.address, transferKey: key },
      totalBytes,
      () => this.receivers.delete(key),
    );
    this.receivers.set(key, r);
    return r;
  }

  async openSender(offer: KvTransferOffer): Promise<KvSender> {
    const address = offer.tcpAddress ?? "";
    const key = offer.transferKey ?? "";
    const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(address);
    if (!m || key.length !== KEY_BYTES * 2) return new GrpcInlineSender();
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: m[1]!, port: Number(m[2]), noDelay: true }, () => resolve(s));
        s.once("error", reject);
      });
      socket.write(Buffer.from(key, "hex"));
      return new TcpSender(socket);
    } catch {
      return new GrpcInlineSender();
    }
  }

  /** One incoming data connection: key first, then frames into that transfer's buffer. */
  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    let receiver: TcpReceiver | null = null;
    let pending: Buffer = Buffer.alloc(0);
    let frame: Buffer | null = null; // the frame being filled
    let frameAt = 0; // its byte offset in the transfer
    let filled = 0;
    const bad = (why: string) => {
      receiver?.fail(new Error(`tcp data plane: ${why}`));
      socket.destroy();
    };
    socket.on("data", (chunk: Buffer) => {
      let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      pending = Buffer.alloc(0);
      if (!receiver) {
        if (data.length < KEY_BYTES) {
          pending = data;
          return;
        }
        const r = this.receivers.get(data.subarray(0, KEY_BYTES).toString("hex"));
        if (!r) return bad("unknown transfer key");
        receiver = r;
        r.socket = socket;
        data = data.subarray(KEY_BYTES);
      }
      const r = receiver;
      let completed = false;
      while (data.length > 0 || (frame && filled === frame.length)) {
        if (!frame) {
          if (data.length < HEADER) {
            pending = Buffer.from(data);
            break;
          }
          frameAt = Number(data.readBigUInt64LE(0));
          const len = data.readUInt32LE(8);
          data = data.subarray(HEADER);
          if (frameAt !== r.received || frameAt + len > r.size)
            return bad(`frame at ${frameAt} (+${len}) out of order or outside the transfer`);
          frame = Buffer.allocUnsafe(len);
          filled = 0;
        }
        const n = Math.min(frame.length - filled, data.length);
        data.copy(frame, filled, 0, n);
        filled += n;
        data = data.subarray(n);
        if (filled === frame.length) {
          r.frames.set(frameAt, frame);
          r.received = frameAt + frame.length;
          frame = null;
          completed = true;
        }
      }
      if (completed) r.progress();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (receiver && !receiver.failed) receiver.fail(new Error("tcp data connection closed"));
    });
  }
}
