// The KV pool's side of a transfer: whole blocks copied out of / into the engine's pool with the
// CRC-32C of the bytes computed in the same pass (kv-transfer-crc.h), to or from any memory: a JS
// buffer, a shared-memory file mapping (shm) or a receive region (tcp). The byte layout is
// rs_engine_export's: block after block, one block = every rank's shard in rank order.
//
// Like every engine operation these calls must not overlap other calls on the same engine (the
// TypeScript wrapper queues them); they check it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct rs_engine;

// Copies blocks[0..n) to out (n * bytes_per_block bytes) and returns their CRC-32C.
uint32_t rs_kv_transfer_export(rs_engine *e, const int32_t *blocks, int n, uint8_t *out, size_t out_len);
// Copies n * bytes_per_block bytes from in into blocks[0..n) and returns the CRC-32C of the bytes.
uint32_t rs_kv_transfer_import(rs_engine *e, const int32_t *blocks, int n, const uint8_t *in, size_t in_len);

// A span of memory that transfers read and write: an mmap of a /dev/shm file (shared between the
// two processes) or an anonymous mapping (a tcp receive buffer). rs_kv_region_free unmaps it.
struct rs_kv_region {
    uint8_t *data = nullptr;
    size_t size = 0;
    std::string path;  // the shm file ("" for an anonymous region)
};

// create: makes the file (O_EXCL, mode 0600) and reserves its pages with posix_fallocate, so a full
// /dev/shm is an error here and never a SIGBUS on a later write through the mapping. !create: maps
// an existing file, which must be exactly `size` bytes (size 0: whatever it holds, at least one byte). The
// pages are populated up front.
rs_kv_region *rs_kv_region_open_shm(const std::string &path, size_t size, bool create);
rs_kv_region *rs_kv_region_alloc(size_t size);
void rs_kv_region_free(rs_kv_region *r);
