import { crc32 } from "node:zlib";

/**
 * CRC-32 (zlib's polynomial) of `data`, continuing from `previous` so that chained calls over
 * consecutive pieces equal one call over their concatenation. Each KvChunk carries the CRC of its
 * bytes; D checks it before importing.
 */
export function kvCrc32(data: Uint8Array, previous = 0): number {
  return crc32(data, previous) >>> 0;
}

/**
 * Folds one chunk's CRC-32 into a transfer's running checksum: the CRC-32 of the sequence of
 * chunk CRCs (4 bytes little-endian each, in send order). Both sides fold the per-chunk values they
 * already computed, so the whole-transfer check costs no second pass over the bytes.
 */
export function foldChunkCrc(total: number, chunkCrc: number): number {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(chunkCrc >>> 0, 0);
  return crc32(b, total) >>> 0;
}
