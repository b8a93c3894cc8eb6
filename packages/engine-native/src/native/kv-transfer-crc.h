// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78) of KV transfer bytes: the
// checksum every KvChunk carries on the wire (its `crc32` field) and PrefillDone folds. Standard
// framing: initial value and final xor 0xFFFFFFFF, so crc32c("123456789") = 0xE3069283 and
// rs_crc32c(b, n2, rs_crc32c(a, n1, 0)) == rs_crc32c(a ++ b, n1 + n2, 0).
//
// The SSE4.2 `crc32` instruction (three interleaved streams, combined with shift tables) is used
// when the CPU has it, checked at run time; otherwise an 8-slice table fallback.
#pragma once

#include <cstddef>
#include <cstdint>

uint32_t rs_crc32c(const uint8_t *data, size_t n, uint32_t crc);
// The table version (the reference the tests compare the hardware path against).
uint32_t rs_crc32c_table(const uint8_t *data, size_t n, uint32_t crc);
// "sse4.2" or "table": which implementation rs_crc32c uses on this CPU.
const char *rs_crc32c_impl();

// Copies n bytes and returns the CRC-32C of them (continuing `crc`), in one pass: the copy goes in
// L1-sized tiles and each tile is checksummed while it is still in cache.
uint32_t rs_crc32c_copy(uint8_t *dst, const uint8_t *src, size_t n, uint32_t crc);
// The same, with non-temporal stores, in ONE pass over the source: each 64-byte line is loaded,
// checksummed and streamed to dst (no read-for-ownership of dst, no cache pollution). For targets
// this process never reads again (another process's KV pool). The caller issues an sfence before
// it announces the bytes. Falls back to checksum-then-copy without SSE4.2 or a 16-byte aligned dst.
uint32_t rs_crc32c_copy_nt(uint8_t *dst, const uint8_t *src, size_t n, uint32_t crc);
