// The paged KV pool: one allocation of num_blocks blocks with layout
//   [block][layer][k|v][kv_head][slot (block_size)][head_dim]
// so one block is contiguous (export/import/copy = one memcpy per block) and attention reads a
// contiguous [slot][head_dim] slab per (block, layer, kv_head).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common.h"

struct rs_kv_pool {
    rs_dtype dtype = RS_DTYPE_F32;
    int num_blocks = 0;
    int block_size = 0;
    int n_layers = 0;
    int n_kv_heads = 0;  // this rank's KV heads
    int head_dim = 0;
    size_t bytes_per_block = 0;
    uint8_t *data = nullptr;
    size_t bytes = 0;
    std::string shm_path;  // "" for an anonymous pool; else the file the pool maps (see init)
    int shm_fd = -1;       // memfd pools: the descriptor that keeps the file reachable (shm_path)
};

// "memfd:<name>": the prefix of a shared pool or region that lives in an anonymous memory file
// (memfd_create) rather than a /dev/shm file. Its pages are committed as they are first written,
// like a private pool's, and /dev/shm's size does not bound it; another process of the same user
// maps it through /proc/<pid>/fd/<n> (rs_memfd_path) while this process holds the descriptor.
constexpr const char *RS_MEMFD_PREFIX = "memfd:";
bool rs_is_memfd_spec(const std::string &spec);
// Creates the memory file `name` of `bytes` bytes (sparse) and returns its descriptor; -1 + errno.
int rs_memfd_create(const std::string &name, size_t bytes);
// The path another process opens to reach descriptor `fd` of this process: /proc/<pid>/fd/<fd>.
std::string rs_memfd_path(int fd);
// What /proc/<pid>/fd/<n> links to for the memory file `name` (to check a file's identity).
std::string rs_memfd_link(const std::string &name);

// shm_path "": private anonymous memory, committed as blocks are first written. "memfd:<name>": a
// MAP_SHARED mapping of a new memory file (committed as written, like the private pool); shm_path
// becomes /proc/<pid>/fd/<n>, where another process of the same user maps it to write blocks
// straight into it (the shm transport's direct path); freed with the pool. Otherwise the pool is a
// MAP_SHARED mapping of a new file at shm_path (O_EXCL, mode 0600, every page reserved with
// posix_fallocate and populated now, so the whole pool is committed at load and a full /dev/shm
// fails here, never as a SIGBUS later); rs_kv_pool_free unlinks the file.
rs_kv_pool *rs_kv_pool_init(rs_dtype dtype, int num_blocks, int block_size, int n_layers, int n_kv_heads,
                            int head_dim, const std::string &shm_path = "");
void rs_kv_pool_free(rs_kv_pool *pool);

size_t rs_kv_pool_bytes_per_block(rs_dtype dtype, int block_size, int n_layers, int n_kv_heads, int head_dim);

// Start of the [block_size][head_dim] slab of K (kv = 0) or V (kv = 1) for one block, layer, KV head.
inline uint8_t *rs_kv_pool_slab(const rs_kv_pool *pool, int block, int layer, int kv, int kv_head) {
    const size_t slab = (size_t)pool->block_size * pool->head_dim * rs_dtype_size(pool->dtype);
    const size_t index = (((size_t)layer * 2 + kv) * pool->n_kv_heads + kv_head);
    return pool->data + (size_t)block * pool->bytes_per_block + index * slab;
}

void rs_kv_pool_export(const rs_kv_pool *pool, const int32_t *blocks, int n, uint8_t *out);
void rs_kv_pool_import(rs_kv_pool *pool, const int32_t *blocks, int n, const uint8_t *in);
void rs_kv_pool_copy(rs_kv_pool *pool, const int32_t *src, const int32_t *dst, int n);
