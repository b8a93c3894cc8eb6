#include "kv-transfer-pool.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include <mutex>

#include "engine.h"
#include "kv-pool.h"
#include "kv-transfer-crc.h"

namespace {

// The same contract as engine.cc's guard: one operation at a time per engine.
struct transfer_busy_guard {
    rs_engine *e;
    explicit transfer_busy_guard(rs_engine *engine) : e(engine) {
        RS_CHECK(!e->busy.exchange(true), "engine is already running an operation (calls must be queued)");
    }
    ~transfer_busy_guard() { e->busy.store(false); }
};

void check_ids(const rs_engine *e, const int32_t *blocks, int n) {
    for (int i = 0; i < n; i++)
        RS_CHECK(blocks[i] >= 0 && blocks[i] < e->num_blocks, "block id " + std::to_string(blocks[i]) +
                                                                  " out of range 0.." +
                                                                  std::to_string(e->num_blocks - 1));
}

}  // namespace

// Block by block: the block is copied out of the pool (every rank's shard) and checksummed while it
// is still in cache, so the bytes cross memory once. A block is ~100 KiB-1 MiB (fits L2).
uint32_t rs_kv_transfer_export(rs_engine *e, const int32_t *blocks, int n, uint8_t *out, size_t out_len) {
    transfer_busy_guard guard(e);
    const size_t bpb = e->bytes_per_block;
    RS_CHECK(out_len == (size_t)n * bpb, "export target is " + std::to_string(out_len) + " bytes, expected " +
                                             std::to_string((size_t)n * bpb));
    check_ids(e, blocks, n);
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *dst = out + (size_t)i * bpb;
        size_t offset = 0;
        for (rs_backend *b : e->ranks) {
            b->iface->kv_export(b, blocks + i, 1, dst + offset, bpb);
            offset += b->kv_bytes_per_block;
        }
        crc = rs_crc32c(dst, bpb, crc);
    }
    return crc;
}

// Checksums each block's bytes, then imports it from cache. A bad id leaves the pool untouched.
uint32_t rs_kv_transfer_import(rs_engine *e, const int32_t *blocks, int n, const uint8_t *in, size_t in_len) {
    transfer_busy_guard guard(e);
    const size_t bpb = e->bytes_per_block;
    RS_CHECK(in_len == (size_t)n * bpb, "import source is " + std::to_string(in_len) + " bytes, expected " +
                                            std::to_string((size_t)n * bpb));
    check_ids(e, blocks, n);
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = in + (size_t)i * bpb;
        crc = rs_crc32c(src, bpb, crc);
        size_t offset = 0;
        for (rs_backend *b : e->ranks) {
            b->iface->kv_import(b, blocks + i, 1, src + offset, bpb);
            offset += b->kv_bytes_per_block;
        }
    }
    return crc;
}

namespace {

uint64_t fence_word(uint32_t generation, uint64_t phase) {
    return (uint64_t)generation << 8 | phase;
}

// P's hold on a fence slot for the duration of one export (released on every exit path).
struct fence_hold {
    uint64_t *state = nullptr;
    uint32_t generation = 0;
    fence_hold(uint8_t *slot, uint32_t gen) : generation(gen) {
        if (!slot) return;
        uint64_t *word = (uint64_t *)slot;
        uint64_t expected = fence_word(gen, RS_FENCE_OPEN);
        RS_CHECK(__atomic_compare_exchange_n(word, &expected, fence_word(gen, RS_FENCE_WRITING), false,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE),
                 "the decode worker revoked this transfer (its deadline passed or the request ended); "
                 "nothing was written");
        __atomic_store_n(word + 1, (uint64_t)getpid(), __ATOMIC_RELEASE);
        state = word;
    }
    ~fence_hold() {
        // A compare-exchange, not a store: the slot only ever leaves WRITING through its holder, but
        // a receiver that decided this writer is gone may have reused it for a new generation.
        if (!state) return;
        uint64_t expected = fence_word(generation, RS_FENCE_WRITING);
        __atomic_compare_exchange_n(state, &expected, fence_word(generation, RS_FENCE_OPEN), false,
                                    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    }
};

}  // namespace

void rs_kv_fence_open(uint8_t *slot, uint32_t generation) {
    uint64_t *word = (uint64_t *)slot;
    __atomic_store_n(word + 1, (uint64_t)0, __ATOMIC_RELAXED);
    __atomic_store_n(word, fence_word(generation, RS_FENCE_OPEN), __ATOMIC_RELEASE);
}

int64_t rs_kv_fence_revoke(uint8_t *slot, uint32_t generation) {
    uint64_t *word = (uint64_t *)slot;
    uint64_t expected = fence_word(generation, RS_FENCE_OPEN);
    if (__atomic_compare_exchange_n(word, &expected, fence_word(generation, RS_FENCE_REVOKED), false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return 0;
    if (expected != fence_word(generation, RS_FENCE_WRITING)) return 0;  // revoked before, or reused
    const int64_t pid = (int64_t)__atomic_load_n(word + 1, __ATOMIC_ACQUIRE);
    return pid > 0 ? pid : -1;  // -1: WRITING, pid not yet stored
}

uint32_t rs_kv_transfer_export_to_pool(rs_engine *e, const int32_t *src_blocks, const int32_t *dst_blocks,
                                       int n, uint8_t *pool, size_t pool_len, uint8_t *fence,
                                       uint32_t generation) {
    transfer_busy_guard guard(e);
    RS_CHECK(e->ranks.size() == 1, "the direct shm path needs a sender with tp size 1");
    const size_t bpb = e->bytes_per_block;
    check_ids(e, src_blocks, n);
    const size_t dst_blocks_max = pool_len / bpb;
    for (int i = 0; i < n; i++)
        RS_CHECK(dst_blocks[i] >= 0 && (size_t)dst_blocks[i] < dst_blocks_max,
                 "target block id " + std::to_string(dst_blocks[i]) + " is outside the " +
                     std::to_string(dst_blocks_max) +
                     "-block pool file (a pool of another model or block size?)");
    fence_hold hold(fence, generation);  // throws, writing nothing, when D revoked the transfer
    rs_backend *b = e->ranks[0];
    uint32_t crc = 0;
    if (b->iface->kv_block_data) {
        // Host pool: one pass per block, each 64-byte line loaded once, checksummed and streamed
        // into the target with non-temporal stores. The source is read from memory once and the
        // target written once, as memcpy of a large buffer does; the CRC covers what P sent.
        for (int i = 0; i < n; i++) {
            const uint8_t *src = b->iface->kv_block_data(b, src_blocks[i]);
            crc = rs_crc32c_copy_nt(pool + (size_t)dst_blocks[i] * bpb, src, bpb, crc);
        }
#if defined(__x86_64__)
        _mm_sfence();  // the streamed stores are globally visible before the fence slot is given back
#endif
        return crc;
    }
    for (int i = 0; i < n; i++) {
        uint8_t *dst = pool + (size_t)dst_blocks[i] * bpb;
        b->iface->kv_export(b, src_blocks + i, 1, dst, bpb);
        crc = rs_crc32c(dst, bpb, crc);
    }
    return crc;
}

uint32_t rs_kv_transfer_crc_blocks(rs_engine *e, const int32_t *blocks, int n) {
    transfer_busy_guard guard(e);
    check_ids(e, blocks, n);
    std::vector<rs_kv_span> spans;
    uint32_t crc = 0;
    if (rs_kv_transfer_host_spans(e, blocks, n, spans)) {
        for (const rs_kv_span &s : spans) crc = rs_crc32c(s.data, s.len, crc);
        return crc;
    }
    std::vector<uint8_t> stage(e->bytes_per_block);  // device pool: one block at a time through host memory
    for (int i = 0; i < n; i++) {
        size_t offset = 0;
        for (rs_backend *b : e->ranks) {
            b->iface->kv_export(b, blocks + i, 1, stage.data() + offset, e->bytes_per_block);
            offset += b->kv_bytes_per_block;
        }
        crc = rs_crc32c(stage.data(), stage.size(), crc);
    }
    return crc;
}

bool rs_kv_transfer_host_spans(rs_engine *e, const int32_t *blocks, int n, std::vector<rs_kv_span> &out) {
    check_ids(e, blocks, n);
    for (rs_backend *b : e->ranks)
        if (!b->iface->kv_block_data) return false;
    out.clear();
    for (int i = 0; i < n; i++)
        for (rs_backend *b : e->ranks) {
            uint8_t *p = b->iface->kv_block_data(b, blocks[i]);
            if (!p) return false;
            out.push_back({p, b->kv_bytes_per_block});
        }
    return true;
}

namespace {
struct hold_state {
    int holds = 0;
    bool free_pending = false;
};
std::mutex holds_mu;
std::map<rs_engine *, hold_state> holds;
}  // namespace

void rs_kv_transfer_hold(rs_engine *e) {
    std::lock_guard<std::mutex> g(holds_mu);
    holds[e].holds++;
}

void rs_kv_transfer_release(rs_engine *e) {
    bool free_now = false;
    {
        std::lock_guard<std::mutex> g(holds_mu);
        auto it = holds.find(e);
        if (it == holds.end()) return;
        if (--it->second.holds == 0) {
            free_now = it->second.free_pending;
            holds.erase(it);
        }
    }
    if (free_now) rs_engine_free(e);
}

bool rs_kv_transfer_defer_free(rs_engine *e) {
    std::lock_guard<std::mutex> g(holds_mu);
    auto it = holds.find(e);
    if (it == holds.end() || it->second.holds == 0) return false;
    it->second.free_pending = true;
    return true;
}

// A new memory file of `size` bytes, mapped; the region keeps its descriptor.
static rs_kv_region *region_create_memfd(const std::string &name, size_t size) {
    const int fd = rs_memfd_create(name, size);
    RS_CHECK(fd >= 0, "cannot create the memory file " + name + ": " + std::strerror(errno));
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        const int err = errno;
        close(fd);
        RS_CHECK(false, "cannot map the memory file " + name + ": " + std::strerror(err));
    }
    auto *r = new rs_kv_region();
    r->data = (uint8_t *)p;
    r->size = size;
    r->fd = fd;
    r->path = rs_memfd_path(fd);
    return r;
}

rs_kv_region *rs_kv_region_open_shm(const std::string &path, size_t size, bool create,
                                    const std::string &memfd_name) {
    RS_CHECK(size > 0 || !create, "a shared-memory region needs at least one byte");
    if (create && rs_is_memfd_spec(path))
        return region_create_memfd(path.substr(std::strlen(RS_MEMFD_PREFIX)), size);
    const int fd = create ? open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                          : open(path.c_str(), O_RDWR | O_CLOEXEC);
    RS_CHECK(fd >= 0, "cannot open " + path + ": " + std::strerror(errno));
    if (!memfd_name.empty()) {
        // The descriptor we hold names the file we will map: check it is that memory file.
        char link[512];
        const std::string self = "/proc/self/fd/" + std::to_string(fd);
        const ssize_t n = readlink(self.c_str(), link, sizeof link - 1);
        const std::string got = n > 0 ? std::string(link, (size_t)n) : std::string();
        if (got != rs_memfd_link(memfd_name)) {
            close(fd);
            RS_CHECK(false, path + " is not the memory file " + memfd_name + " (it is '" + got + "')");
        }
    }
    auto fail = [&](const std::string &what) {
        const int err = errno;
        close(fd);
        if (create) unlink(path.c_str());
        RS_CHECK(false, what + " " + path + ": " + std::strerror(err));
    };
    if (create) {
        const int err = posix_fallocate(fd, 0, (off_t)size);
        if (err != 0) {
            errno = err;
            fail("cannot reserve " + std::to_string(size) + " bytes for");
        }
    } else {
        struct stat st;
        if (fstat(fd, &st) != 0) fail("cannot stat");
        if (size == 0) size = (size_t)st.st_size;
        if (size == 0 || (size_t)st.st_size != size) {
            errno = EINVAL;
            fail("size " + std::to_string(st.st_size) + " != " + std::to_string(size) + " of");
        }
    }
    // Transfer files are populated now (their pages are all written soon); a memory file may be a
    // large sparse KV pool, whose pages are committed only as blocks are written.
    const int populate = memfd_name.empty() ? MAP_POPULATE : 0;
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | populate, fd, 0);
    if (p == MAP_FAILED) fail("cannot map");
    close(fd);  // the mapping keeps the file's pages
    auto *r = new rs_kv_region();
    r->data = (uint8_t *)p;
    r->size = size;
    r->path = path;
    return r;
}

rs_kv_region *rs_kv_region_alloc(size_t size) {
    RS_CHECK(size > 0, "a region needs at least one byte");
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    RS_CHECK(p != MAP_FAILED,
             "cannot allocate a " + std::to_string(size) + "-byte receive region: " + std::strerror(errno));
    auto *r = new rs_kv_region();
    r->data = (uint8_t *)p;
    r->size = size;
    return r;
}

void rs_kv_region_free(rs_kv_region *r) {
    if (!r) return;
    if (r->data) munmap(r->data, r->size);
    if (r->fd >= 0) close(r->fd);
    delete r;
}
