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
#include <vector>

struct rs_engine;

// Copies blocks[0..n) to out (n * bytes_per_block bytes) and returns their CRC-32C.
uint32_t rs_kv_transfer_export(rs_engine *e, const int32_t *blocks, int n, uint8_t *out, size_t out_len);
// Copies n * bytes_per_block bytes from in into blocks[0..n) and returns the CRC-32C of the bytes.
uint32_t rs_kv_transfer_import(rs_engine *e, const int32_t *blocks, int n, const uint8_t *in, size_t in_len);

// The shm transport's direct path: copies src_blocks[0..n) of e's pool into another engine's pool
// that this process has mapped (`pool`, `pool_len` bytes: a KV pool file, rs_kv_pool_init), block
// i to block dst_blocks[i] of that pool, and returns the CRC-32C of the bytes computed in the same
// pass (block by block, from cache). One copy, no staging. e must have one rank (the file is a
// tp-1 pool's layout, which is then also the transfer byte order). Throws before writing anything
// when an id is out of range.
//
// `fence` (may be null): the transfer's slot in the receiver's fence file (below). The copy runs only
// while the slot grants this generation the right to write: it takes the slot OPEN -> WRITING before
// the first byte and gives it back (WRITING -> OPEN) after the last store is fenced; a slot the
// receiver revoked makes the call throw without writing anything.
uint32_t rs_kv_transfer_export_to_pool(rs_engine *e, const int32_t *src_blocks, const int32_t *dst_blocks,
                                       int n, uint8_t *pool, size_t pool_len, uint8_t *fence,
                                       uint32_t generation);

// The write permission of one direct transfer: a 16-byte slot in a shared-memory file the receiver
// (D) owns and the sender (P) maps. Word 0 = generation << 8 | phase, word 1 = the writer's pid.
// Only D opens and revokes; only P takes and gives back WRITING. Because P holds WRITING for exactly
// the duration of one export call, D can stop every future write by revoking (OPEN -> REVOKED), and
// knows that a write is in progress (and by which pid) when the revoke finds WRITING: it must then
// keep the target blocks out of use until the writer gives the slot back or is gone.
constexpr size_t RS_KV_FENCE_SLOT_BYTES = 16;
enum rs_kv_fence_phase : uint64_t {
    RS_FENCE_FREE = 0,
    RS_FENCE_OPEN = 1,
    RS_FENCE_WRITING = 2,
    RS_FENCE_REVOKED = 3
};
// D: grants `generation` the right to write (any previous generation of the slot loses it).
void rs_kv_fence_open(uint8_t *slot, uint32_t generation);
// D: revokes `generation`. Returns 0 when nothing of that generation can write any more (revoked
// now or before, or the slot moved on), else the pid of the writer currently holding WRITING
// (call again later).
int64_t rs_kv_fence_revoke(uint8_t *slot, uint32_t generation);
// The CRC-32C of blocks[0..n) of e's pool in transfer byte order (a receiver verifying bytes that
// a peer wrote straight into its pool).
uint32_t rs_kv_transfer_crc_blocks(rs_engine *e, const int32_t *blocks, int n);

// A contiguous piece of a block in host memory (one rank's shard).
struct rs_kv_span {
    uint8_t *data = nullptr;
    size_t len = 0;
};

// The host memory of blocks[0..n) in transfer byte order (block by block, each block's rank shards
// in rank order), so a sender can write straight from the pool and a receiver read straight into
// it. False when some rank's pool is not in host memory (CUDA): callers copy through a region.
bool rs_kv_transfer_host_spans(rs_engine *e, const int32_t *blocks, int n, std::vector<rs_kv_span> &out);

// Transfers that write into or read from an engine's pool outside its call queue (the tcp
// receiver's connection threads) hold the engine: rs_kv_transfer_defer_free then postpones
// rs_engine_free until the last hold is released (possibly on another thread).
void rs_kv_transfer_hold(rs_engine *e);
void rs_kv_transfer_release(rs_engine *e);
// True when e is held: it will be freed on the last release instead of now.
bool rs_kv_transfer_defer_free(rs_engine *e);

// A span of memory that transfers read and write: an mmap of a /dev/shm file (shared between the
// two processes) or an anonymous mapping (a tcp receive buffer). rs_kv_region_free unmaps it.
struct rs_kv_region {
    uint8_t *data = nullptr;
    size_t size = 0;
    std::string path;  // the shm file ("" for an anonymous region; /proc/<pid>/fd/<n> for a memfd)
    int fd = -1;       // a memfd region's descriptor (keeps the file reachable by path)
};

// create: makes the file (O_EXCL, mode 0600) and reserves its pages with posix_fallocate, so a full
// /dev/shm is an error here and never a SIGBUS on a later write through the mapping. !create: maps
// an existing file, which must be exactly `size` bytes (size 0: whatever it holds, at least one byte). The
// pages are populated up front.
//
// create with path "memfd:<name>": a new memory file instead (sparse, committed as written; path
// becomes /proc/<pid>/fd/<n>). !create with `memfd_name`: the file opened must be the memory file
// of that name (its /proc link is checked), which guards against a pid or descriptor reused by
// another process; such a mapping is not populated (the file may be a large, sparse KV pool).
rs_kv_region *rs_kv_region_open_shm(const std::string &path, size_t size, bool create,
                                    const std::string &memfd_name = "");
rs_kv_region *rs_kv_region_alloc(size_t size);
void rs_kv_region_free(rs_kv_region *r);
