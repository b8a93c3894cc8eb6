/**
 * `grpc`: the bytes ride inside KvChunk.data on the PrefillService stream itself. Works wherever
 * the two workers can talk gRPC. Flow control is the stream's: P keeps at most `window_chunks`
 * unacked chunks in flight and grpc-js applies HTTP/2 back-pressure below that; D (the client of
 * the stream, i.e. the side that receives the server's messages) opens its channel with a large
 * `grpc-node.flow_control_window` (see prefill-client.ts), which is what lifts grpc-js above its
 * fixed 64 KiB default window (measured: ~0.2-0.5 GB/s on loopback).
 */
import type { KvTransferOffer } from "@radixserve/core";
import type { KvChunkPayload, KvReceiver, KvSender, KvTransport } from "./kv-transport.js";

export class GrpcInlineSender implements KvSender {
  readonly name = "grpc" as const;
  async write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload> {
    return { data, offset: byteOffset, byteLength: data.byteLength };
  }
  close(): void {}
}

class GrpcInlineReceiver implements KvReceiver {
  readonly offer: KvTransferOffer = { transport: "grpc" };
  async read(payload: KvChunkPayload): Promise<Uint8Array> {
    if (payload.data.byteLength !== payload.byteLength)
      throw new Error(
        `inline KV chunk carries ${payload.data.byteLength} bytes but announces ${payload.byteLength}`,
      );
    return payload.data;
  }
  close(): void {}
}

/** A receiver for inline bytes only (what a transport offers when its own medium is unavailable). */
export function inlineReceiver(): KvReceiver {
  return new GrpcInlineReceiver();
}

export class GrpcKvTransport implements KvTransport {
  readonly name = "grpc" as const;
  async init(): Promise<void> {}
  async openReceiver(): Promise<KvReceiver> {
    return new GrpcInlineReceiver();
  }
  async openSender(): Promise<KvSender> {
    return new GrpcInlineSender();
  }
}

/**
 * A receiver that accepts inline bytes whatever it offered: P falls back to inline bytes when it
 * cannot honour an offer (shm across hosts), so every receiver must also read inline chunks.
 */
export async function readInlineOr(
  payload: KvChunkPayload,
  medium: (p: KvChunkPayload) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  if (payload.data.byteLength > 0 || payload.byteLength === 0) return payload.data;
  return medium(payload);
}
