/**
 * KvTransport: how the KV bytes of one prefill -> decode transfer travel.
 *
 * The control messages (start, chunk descriptors, acks, done) always ride the PrefillService gRPC
 * stream; a transport only decides where a chunk's BYTES go. The decode worker D (receiver) opens
 * a KvReceiver per request and puts its `offer` in PrefillStart; the prefill worker P (sender)
 * builds a KvSender from that offer (sender-for-offer.ts) and, per chunk, places the bytes with
 * write() and sends back the returned KvChunkPayload inside KvChunk. D's read() turns a payload
 * back into bytes for engine.importBlocks.
 *
 * Implementations register in registry.ts under their configuration name (--kv-transport):
 *   grpc  bytes inline in KvChunk.data (works across hosts; the default)
 *   shm   same host: P writes straight into D's KV pool, a /dev/shm file (shm-direct.ts), or
 *         through a per-transfer file in /dev/shm when D's pool is private (falls back to grpc
 *         inline when P is on another host)
 *   tcp   the native framed data plane: a raw TCP connection per transfer beside the control
 *         stream, written and read by native threads (engine-native kv-transfer-tcp)
 *   rdma  a named shim: fails at start-up with a clear message (not built here)
 *   auto  D offers shm and tcp at once; P takes shm on D's host, else tcp, else inline bytes
 */

import type { KvTransferOffer } from "@radixserve/core";
import type { Engine } from "@radixserve/engine-native";

/** What a sender needs from the engine: block exports into a sink (memory, a pool, a tcp frame), with CRC-32C. */
export type KvBlockSource = Pick<Engine, "exportBlocks" | "info">;
/**
 * What a receiver needs from the engine: block imports from a source, with CRC-32C, and the tcp
 * registration that lands a transfer's bytes straight in the pool (false where it cannot).
 */
export type KvBlockSink = Pick<Engine, "importBlocks" | "expectBlocksFrom" | "info">;

/** Where D will put the transfer's blocks: lets a transport receive straight into them (tcp). */
export interface KvReceiveTarget {
  pool: KvBlockSink;
  /** The reserved blocks the transfer fills, in order (block i holds bytes [i, i+1) * bytesPerBlock). */
  blockIds: Int32Array;
}

/** A chunk placed by sendBlocks: where it is, and the CRC-32C of its bytes (for KvChunk.crc32). */
export interface KvSentChunk {
  payload: KvChunkPayload;
  crc: number;
}

export type KvTransportName = "grpc" | "shm" | "tcp" | "rdma" | "auto";

/** Where one chunk's bytes are: inline (`data`) or at `offset` in the transport's medium. */
export interface KvChunkPayload {
  /** The bytes for inline transports; empty for the others. */
  data: Uint8Array;
  /** Byte offset in the transfer (medium-specific; for shm, in the file). */
  offset: number;
  byteLength: number;
  /** The medium that carried the chunk (KvChunk.transport; an `auto` receiver dispatches on it). */
  via?: string;
  /**
   * The sender's CRC-32C of the chunk (KvChunk.crc32). A receiver whose bytes the sender wrote
   * straight into D's pool (direct shm) has nothing to checksum and returns it.
   */
  crc32?: number;
}

/** D's half of one transfer. */
export interface KvReceiver {
  /** What D sends in PrefillStart.offer. */
  readonly offer: KvTransferOffer;
  /**
   * Optional: the chunk size this medium wants in PrefillStart.chunk_bytes instead of D's
   * --kv-chunk-bytes (direct shm: no bytes ride the stream, so fewer, larger chunks cost less).
   */
  readonly chunkBytes?: number;
  /**
   * Returns the bytes of one chunk P announced (for importBlocks). Called once per chunk, in
   * any order; must not block the event loop for long. Rejects when the bytes cannot be read.
   */
  read(payload: KvChunkPayload): Promise<Uint8Array>;
  /**
   * Optional native path: imports the chunk's bytes (inline or in the medium) into `blockIds` of
   * `pool` without a JS copy and resolves with their CRC-32C, which the caller compares with the
   * sender's. Called once per chunk, in send order. Rejects when the bytes cannot arrive.
   */
  receiveBlocks?(pool: KvBlockSink, blockIds: Int32Array, payload: KvChunkPayload): Promise<number>;
  /**
   * Optional: the transfer completed (every chunk imported and checked, P has sent `done`), so
   * nothing will write into the receiver's medium again and close() may keep it for reuse.
   */
  complete?(): void;
  /**
   * Optional: resolves once the sender can no longer write into the target blocks (direct shm,
   * where P writes into D's pool itself). D awaits it before adopting the blocks and before
   * releasing them after a failure. Transports whose bytes land only through D's own calls need none.
   */
  quiesce?(): Promise<void>;
  /** Releases what the receiver holds (e.g. unlinks the shm file). Idempotent; called on every exit path. */
  close(): void;
}

/** P's half of one transfer. */
export interface KvSender {
  /** The transport actually used (may differ from the offer after a fallback). */
  readonly name: KvTransportName;
  /**
   * Optional: the largest chunk this sender takes. Only senders whose bytes never ride the stream
   * set it (it may exceed the stream's 32 MiB message limit, which binds only inline bytes).
   */
  readonly maxChunkBytes?: number;
  /**
   * Places one chunk's bytes, which start `byteOffset` bytes into the transfer, and returns what
   * KvChunk must carry to locate them. The caller keeps `data` alive until the promise settles.
   */
  write(data: Uint8Array, byteOffset: number): Promise<KvChunkPayload>;
  /**
   * Optional native path: exports `blockIds` of `pool` straight into the medium at `byteOffset`
   * (no JS buffer) and resolves with the payload and the bytes' CRC-32C. Calls are sequential
   * unless `pipelined`.
   */
  sendBlocks?(pool: KvBlockSource, blockIds: Int32Array, byteOffset: number): Promise<KvSentChunk>;
  /**
   * sendBlocks calls may overlap: a call need not wait for the previous one to settle, and chunks
   * are placed in call order (tcp: frames queue on the connection). The caller then keeps up to
   * its window of calls in flight, so the medium does not wait on a JS round trip between chunks.
   */
  readonly pipelined?: boolean;
  /** Idempotent; called on every exit path. */
  close(): void;
}

/** One transport, as configured by --kv-transport. */
export interface KvTransport {
  readonly name: KvTransportName;
  /**
   * Called once at worker start-up: throws a RadixServeError with a clear message when this
   * transport cannot work here (rdma without a build; shm without /dev/shm).
   */
  init(): Promise<void>;
  /**
   * D: prepares to receive `totalBytes` bytes of request `requestId`. With `target`, a transport
   * may land the bytes straight in those blocks; the blocks must then stay reserved until close().
   */
  openReceiver(requestId: string, totalBytes: number, target?: KvReceiveTarget): Promise<KvReceiver>;
  /**
   * P: a sender honouring `offer` (called through senderForOffer, which picks the transport).
   * `source` is the engine the sender will send from, when known: a transport that needs
   * something of it (direct shm: a tp-1 engine that can write into another pool) checks it here
   * and falls back to inline bytes rather than failing later.
   */
  openSender(offer: KvTransferOffer, source?: KvBlockSource): Promise<KvSender>;
  /** Optional: releases what the transport holds (files it created, mappings) when the worker stops. */
  close?(): void;
}
