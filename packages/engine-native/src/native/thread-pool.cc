#include "thread-pool.h"

#include <chrono>

#include "common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define RS_PAUSE() _mm_pause()
#else
#define RS_PAUSE() std::this_thread::yield()
#endif

// Time-based, because one `pause` costs from ~10 to ~140 cycles depending on the CPU.
static const auto k_spin_time = std::chrono::microseconds(100);
static const int k_max_chunks = (1 << 20) - 1;

namespace {
struct spin_budget {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    int n = 0;
    // True while the caller may keep spinning; checks the clock every 64 calls.
    bool more() {
        if ((++n & 63) != 0) return true;
        return std::chrono::steady_clock::now() - start < k_spin_time;
    }
};

inline uint32_t state_gen(uint64_t s) {
    return (uint32_t)(s >> 40);
}
inline int state_chunks(uint64_t s) {
    return (int)((s >> 20) & 0xfffff);
}
inline int state_next(uint64_t s) {
    return (int)(s & 0xfffff);
}
}  // namespace

// Claims and runs chunks of generation `gen` until none are left (or a newer job replaced it).
static void work_on(rs_thread_pool *pool, uint32_t gen, int tid) {
    for (;;) {
        uint64_t s = pool->state.load(std::memory_order_acquire);
        if (state_gen(s) != gen || state_next(s) >= state_chunks(s)) return;
        if (!pool->state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
        try {
            (*pool->job)(state_next(s), tid);
        } catch (...) {
            std::lock_guard<std::mutex> lock(pool->error_mutex);
            if (!pool->error) pool->error = std::current_exception();
        }
        pool->done.fetch_add(1, std::memory_order_acq_rel);
    }
}

static void worker_main(rs_thread_pool *pool, int tid) {
    uint32_t seen = 0;
    for (;;) {
        spin_budget spin;
        while (state_gen(pool->state.load(std::memory_order_acquire)) == seen && !pool->stop.load()) {
            if (spin.more()) {
                RS_PAUSE();
                continue;
            }
            std::unique_lock<std::mutex> lock(pool->mutex);
            pool->sleepers.fetch_add(1);
            pool->cv.wait(lock, [&] { return state_gen(pool->state.load()) != seen || pool->stop.load(); });
            pool->sleepers.fetch_sub(1);
        }
        if (pool->stop.load()) return;
        seen = state_gen(pool->state.load(std::memory_order_acquire));
        work_on(pool, seen, tid);
    }
}

rs_thread_pool *rs_thread_pool_init(int n_threads) {
    auto *pool = new rs_thread_pool();
    pool->n_threads = n_threads < 1 ? 1 : n_threads;
    for (int i = 1; i < pool->n_threads; i++) pool->workers.emplace_back(worker_main, pool, i);
    return pool;
}

void rs_thread_pool_free(rs_thread_pool *pool) {
    if (!pool) return;
    {
        std::lock_guard<std::mutex> lock(pool->mutex);
        pool->stop.store(true);
    }
    pool->cv.notify_all();
    for (auto &t : pool->workers) t.join();
    delete pool;
}

void rs_thread_pool_run(rs_thread_pool *pool, int n_chunks, const std::function<void(int, int)> &fn) {
    RS_CHECK(n_chunks >= 0 && n_chunks <= k_max_chunks, "too many chunks for the thread pool");
    if (n_chunks == 0) return;
    if (pool->n_threads == 1 || n_chunks == 1) {
        for (int c = 0; c < n_chunks; c++) fn(c, 0);
        return;
    }
    pool->error = nullptr;
    pool->job = &fn;
    pool->done.store(0, std::memory_order_relaxed);
    const uint32_t gen = (state_gen(pool->state.load()) + 1) & 0xffffff;
    pool->state.store(((uint64_t)gen << 40) | ((uint64_t)n_chunks << 20));  // seq_cst: see sleepers
    if (pool->sleepers.load() > 0) {
        { std::lock_guard<std::mutex> lock(pool->mutex); }
        pool->cv.notify_all();
    }
    work_on(pool, gen, 0);
    // Only chunks already claimed by running workers remain: wait for them without sleeping.
    spin_budget spin;
    while (pool->done.load(std::memory_order_acquire) != n_chunks) {
        if (spin.more())
            RS_PAUSE();
        else
            std::this_thread::yield();
    }
    pool->job = nullptr;
    if (pool->error) {
        std::exception_ptr e = pool->error;
        pool->error = nullptr;
        std::rethrow_exception(e);
    }
}
