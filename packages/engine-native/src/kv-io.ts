/**
 * Where an engine's block export writes and where its block import reads (in the spirit of
 * llama.cpp's llama_io_write_i / llama_io_read_i): one `exportBlocks(ids, sink)` and one
 * `importBlocks(ids, source)` on the Engine, and a new medium is a new sink or source here, not a
 * new engine method. Every sink and source is native: the bytes go from the pool to the medium (or
 * back) in one pass with their CRC-32C computed in the same pass, and never through JS.
 *
 * Sinks:
 * - memory(target, offset): a buffer or a KvRegion (shared-memory mapping, tcp send region) at a
 *   byte offset; the bytes are the transfer layout (block after block, every rank's shard in rank order).
 * - pool(pool, dstIds, fence?): straight into blocks `dstIds` of another engine's pool mapped in this
 *   process (the direct shm path), under the receiver's fence slot; tp-1 engines only.
 * - tcp(conn, frameOffset): one frame of the native tcp data plane at byte `frameOffset` of the
 *   transfer; a host pool's frames go onto the connection's own send queue.
 * Sources:
 * - memory(source, offset): a buffer or a KvRegion at a byte offset.
 */
import type { KvRegion, KvTcpConnection } from "./kv-transfer.js";
import type { KvPoolFence } from "./types.js";

export type KvSink =
  | { readonly kind: "memory"; readonly target: Uint8Array | KvRegion; readonly offset: number }
  | {
      readonly kind: "pool";
      readonly pool: KvRegion;
      readonly dstIds: Int32Array;
      readonly fence?: KvPoolFence;
    }
  | { readonly kind: "tcp"; readonly conn: KvTcpConnection; readonly frameOffset: number };

export type KvSource = {
  readonly kind: "memory";
  readonly source: Uint8Array | KvRegion;
  readonly offset: number;
};

export const kvSink = {
  memory: (target: Uint8Array | KvRegion, offset = 0): KvSink => ({ kind: "memory", target, offset }),
  pool: (pool: KvRegion, dstIds: Int32Array, fence?: KvPoolFence): KvSink =>
    fence ? { kind: "pool", pool, dstIds, fence } : { kind: "pool", pool, dstIds },
  tcp: (conn: KvTcpConnection, frameOffset: number): KvSink => ({ kind: "tcp", conn, frameOffset }),
};

export const kvSource = {
  memory: (source: Uint8Array | KvRegion, offset = 0): KvSource => ({ kind: "memory", source, offset }),
};
