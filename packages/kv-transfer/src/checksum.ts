import { crc32c } from "@radixserve/engine-native";

/**
 * The KV transfer checksum: CRC-32C (Castagnoli; init and final xor 0xFFFFFFFF, so
 * kvCrc32("123456789") = 0xE3069283), continuing from `previous` so that chained calls over
 * consecutive pieces equal one call over their concatenation. Each KvChunk's `crc32` field carries
 * it for the chunk's bytes; D checks it before adopting the blocks. The engine computes the same
 * value natively while it copies blocks (Engine.exportBlocks / importBlocks); this function
 * is for bytes JS already holds (SSE4.2 `crc32` instruction, ~10+ GB/s, vs ~1.7 for zlib's CRC-32).
 */
export function kvCrc32(data: Uint8Array, previous = 0): number {
  return crc32c(data, previous);
}

/**
 * Folds one chunk's checksum into a transfer's running checksum: the CRC-32C of the sequence of
 * chunk checksums (4 bytes little-endian each, in send order). Both sides fold the per-chunk values
 * they already computed, so the whole-transfer check (PrefillDone.crc32) costs no second pass.
 */
export function foldChunkCrc(total: number, chunkCrc: number): number {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(chunkCrc >>> 0, 0);
  return crc32c(b, total);
}
