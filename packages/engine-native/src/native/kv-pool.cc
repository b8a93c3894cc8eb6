#include "kv-pool.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

size_t rs_kv_pool_bytes_per_block(rs_dtype dtype, int block_size, int n_layers, int n_kv_heads,
                                  int head_dim) {
    return (size_t)n_layers * 2 * n_kv_heads * block_size * head_dim * rs_dtype_size(dtype);
}

bool rs_is_memfd_spec(const std::string &spec) {
    return spec.rfind(RS_MEMFD_PREFIX, 0) == 0;
}

int rs_memfd_create(const std::string &name, size_t bytes) {
    const int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)bytes) != 0) {
        const int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

std::string rs_memfd_path(int fd) {
    return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd);
}

std::string rs_memfd_link(const std::string &name) {
    return "/memfd:" + name + " (deleted)";
}

// The file is created exclusively (a stale file of a dead process must be swept by the caller,
// never silently reused) and removed again when any later step fails. Returns null with errno set.
static uint8_t *map_shared_pool(const std::string &path, size_t bytes) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return nullptr;
    int err = posix_fallocate(fd, 0, (off_t)bytes);
    void *p = MAP_FAILED;
    if (err == 0) {
        p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED) err = errno;
    }
    close(fd);  // the mapping keeps the file's pages
    if (p == MAP_FAILED) {
        unlink(path.c_str());
        errno = err;
        return nullptr;
    }
    return (uint8_t *)p;
}

rs_kv_pool *rs_kv_pool_init(rs_dtype dtype, int num_blocks, int block_size, int n_layers, int n_kv_heads,
                            int head_dim, const std::string &shm_path) {
    RS_CHECK(num_blocks > 0 && block_size > 0, "KV pool needs at least one block of at least one slot");
    auto *pool = new rs_kv_pool();
    pool->dtype = dtype;
    pool->num_blocks = num_blocks;
    pool->block_size = block_size;
    pool->n_layers = n_layers;
    pool->n_kv_heads = n_kv_heads;
    pool->head_dim = head_dim;
    pool->bytes_per_block = rs_kv_pool_bytes_per_block(dtype, block_size, n_layers, n_kv_heads, head_dim);
    pool->bytes = pool->bytes_per_block * (size_t)num_blocks;
    if (rs_is_memfd_spec(shm_path)) {
        const std::string name = shm_path.substr(std::strlen(RS_MEMFD_PREFIX));
        const int fd = rs_memfd_create(name, pool->bytes);
        void *p = fd < 0 ? MAP_FAILED : mmap(nullptr, pool->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            if (fd >= 0) close(fd);
            delete pool;
            RS_CHECK(false, "cannot create the shared KV pool memory file " + name + " (" +
                                std::to_string(num_blocks) + " blocks): " + std::strerror(err) +
                                "; lower kvCacheBlocks or use --kv-transport grpc");
        }
        pool->data = (uint8_t *)p;
        pool->shm_fd = fd;
        pool->shm_path = rs_memfd_path(fd);
        return pool;
    }
    if (!shm_path.empty()) {
        pool->data = map_shared_pool(shm_path, pool->bytes);
        if (!pool->data) {
            const int err = errno;
            delete pool;
            RS_CHECK(false, "cannot create the shared KV pool file " + shm_path + " (" +
                                std::to_string(num_blocks) + " blocks): " + std::strerror(err) +
                                "; free /dev/shm space, lower kvCacheBlocks, or use --kv-transport grpc");
        }
        pool->shm_path = shm_path;
        return pool;
    }
    // An anonymous mapping: zero pages are committed only when a block is first written, so a pool
    // sized for the worst case costs memory only as it fills.
    void *p = mmap(nullptr, pool->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        const int err = errno;
        delete pool;
        RS_CHECK(false, "cannot allocate the KV pool (" + std::to_string(num_blocks) +
                            " blocks): " + std::strerror(err) + "; lower kvCacheBlocks or memFractionStatic");
    }
    pool->data = (uint8_t *)p;
    return pool;
}

void rs_kv_pool_free(rs_kv_pool *pool) {
    if (!pool) return;
    if (pool->data) munmap(pool->data, pool->bytes);
    if (pool->shm_fd >= 0)
        close(pool->shm_fd);  // the memory file goes once no process maps it
    else if (!pool->shm_path.empty())
        unlink(pool->shm_path.c_str());
    delete pool;
}

static void check_block(const rs_kv_pool *pool, int32_t b) {
    RS_CHECK(b >= 0 && b < pool->num_blocks,
             "block id " + std::to_string(b) + " out of range 0.." + std::to_string(pool->num_blocks - 1));
}

void rs_kv_pool_export(const rs_kv_pool *pool, const int32_t *blocks, int n, uint8_t *out) {
    for (int i = 0; i < n; i++) check_block(pool, blocks[i]);
    for (int i = 0; i < n; i++)
        std::memcpy(out + (size_t)i * pool->bytes_per_block,
                    pool->data + (size_t)blocks[i] * pool->bytes_per_block, pool->bytes_per_block);
}

void rs_kv_pool_import(rs_kv_pool *pool, const int32_t *blocks, int n, const uint8_t *in) {
    for (int i = 0; i < n; i++) check_block(pool, blocks[i]);
    for (int i = 0; i < n; i++)
        std::memcpy(pool->data + (size_t)blocks[i] * pool->bytes_per_block,
                    in + (size_t)i * pool->bytes_per_block, pool->bytes_per_block);
}

void rs_kv_pool_copy(rs_kv_pool *pool, const int32_t *src, const int32_t *dst, int n) {
    for (int i = 0; i < n; i++) {
        check_block(pool, src[i]);
        check_block(pool, dst[i]);
    }
    for (int i = 0; i < n; i++) {
        if (src[i] == dst[i]) continue;
        std::memcpy(pool->data + (size_t)dst[i] * pool->bytes_per_block,
                    pool->data + (size_t)src[i] * pool->bytes_per_block, pool->bytes_per_block);
    }
}
