/**
 * `auto`: the best data plane each transfer can use, chosen by P from what D offers. D offers every
 * medium it has at once: shm (its KV pool for the direct path, or a transfer file) and a tcp data
 * connection on its listener. P takes shm when it is on D's host and can open D's memory (same
 * user, tp 1 for the direct path), else tcp when it can reach D's data-plane address, else sends
 * the bytes inline on the control stream. Every KvChunk names the medium that carried it
 * (`transport`), so D's receiver looks for the bytes in the right place; PrefillDone names it too
 * (the transfer metrics' label).
 *
 * The receiver medium P did not take costs D little: a tcp key registered on the listener (cancelled
 * at close) and, for shm, a fence slot (direct) or a pooled transfer file (two-copy).
 */
import type { KvTransferOffer } from "@radixserve/core";
import { kvSource } from "@radixserve/engine-native";
import { inlineReceiver, readInlineOr } from "./grpc-transport.js";
import type {
  KvBlockSink,
  KvChunkPayload,
  KvReceiver,
  KvReceiveTarget,
  KvSender,
  KvTransport,
} from "./kv-transport.js";
import type { ShmKvTransport } from "./shm-transport.js";
import type { TcpKvTransport } from "./tcp-transport.js";

class AutoReceiver implements KvReceiver {
  readonly offer: KvTransferOffer;
  readonly chunkBytes?: number;

  constructor(
    private readonly shm: KvReceiver | null,
    private readonly tcp: KvReceiver | null,
  ) {
    // One offer with every medium's fields (they do not overlap); `auto` tells P to choose.
    this.offer = { ...(tcp?.offer ?? {}), ...(shm?.offer ?? {}), transport: "auto" };
    const sizes = [shm?.chunkBytes ?? 0, tcp?.chunkBytes ?? 0];
    // P caps the chunk by its own sender's limit, so ask for the larger one.
    if (Math.max(...sizes) > 0) this.chunkBytes = Math.max(...sizes);
  }

  /** The receiver of the medium that carried a chunk (inline chunks need none). */
  private medium(p: KvChunkPayload): KvReceiver {
    const r = p.via === "shm" ? this.shm : p.via === "tcp" ? this.tcp : null;
    if (!r) throw new Error(`KV chunk carried by '${p.via ?? "?"}', which this transfer did not offer`);
    return r;
  }

  read(payload: KvChunkPayload): Promise<Uint8Array> {
    return readInlineOr(payload, (p) => this.medium(p).read(p));
  }

  async receiveBlocks(sink: KvBlockSink, ids: Int32Array, p: KvChunkPayload): Promise<number> {
    if (p.data.byteLength > 0) return sink.importBlocks(ids, kvSource.memory(p.data, 0));
    const r = this.medium(p);
    if (r.receiveBlocks) return r.receiveBlocks(sink, ids, p);
    return sink.importBlocks(ids, kvSource.memory(await r.read(p), 0));
  }

  async quiesce(): Promise<void> {
    await Promise.all([this.shm?.quiesce?.(), this.tcp?.quiesce?.()]);
  }

  complete(): void {
    this.shm?.complete?.();
    this.tcp?.complete?.();
  }

  close(): void {
    this.shm?.close();
    this.tcp?.close();
  }
}

export class AutoKvTransport implements KvTransport {
  readonly name = "auto" as const;

  constructor(
    /** Same-host medium (null: --disable-shm-transport, or no shared-memory directory). */
    readonly shm: ShmKvTransport | null,
    /** Cross-host medium (null: the native tcp data plane is unavailable). */
    readonly tcp: TcpKvTransport | null,
  ) {}

  /** Each medium was initialised when it was created (createKvTransport). */
  async init(): Promise<void> {}

  async openReceiver(requestId: string, totalBytes: number, target?: KvReceiveTarget): Promise<KvReceiver> {
    if (totalBytes <= 0) return inlineReceiver(); // D holds every block: nothing to move
    const shm = this.shm ? await this.shm.openReceiver(requestId, totalBytes, target) : null;
    let tcp: KvReceiver | null = null;
    try {
      tcp = this.tcp ? await this.tcp.openReceiver(requestId, totalBytes, target) : null;
    } catch (err) {
      shm?.close();
      throw err;
    }
    return new AutoReceiver(shm, tcp);
  }

  /** P's side of `auto` is senderForOffer's (registry.ts): shm, then tcp, then inline. */
  async openSender(): Promise<KvSender> {
    throw new Error("auto offers are opened by senderForOffer");
  }

  close(): void {
    this.shm?.close();
    this.tcp?.close();
  }
}
