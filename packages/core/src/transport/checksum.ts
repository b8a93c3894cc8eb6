import { crc32 } from "node:zlib";

/**
 * CRC-32 (zlib's polynomial) of `data`, continuing from `previous` so that chained calls over
 * consecutive chunks equal one call over their concatenation. P chains it over every byte it sends
 * and D over every byte it imports; PrefillDone carries P's value for D to compare.
 */
export function kvCrc32(data: Uint8Array, previous = 0): number {
  return crc32(data, previous) >>> 0;
}
