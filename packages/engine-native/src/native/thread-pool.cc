#include "thread-pool.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#define RS_PAUSE() _mm_pause()
#else
#define RS_PAUSE() std::this_thread::yield()
#endif

// About 50 microseconds of spinning: long enough to bridge the gap between two sections of one
// layer, short enough that an idle engine sleeps instead of burning a shared core.
static const int k_spin_iters = 20000;

static void run_job(rs_thread_pool *pool, int tid) {
    try {
        (*pool->job)(tid, pool->n_threads);
    } catch (...) {
        std::lock_guard<std::mutex> lock(pool->mutex);
        if (!pool->error) pool->error = std::current_exception();
    }
}

static void worker_main(rs_thread_pool *pool, int tid) {
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        while (pool->generation.load(std::memory_order_acquire) == seen && !pool->stop.load()) {
            if (++spins < k_spin_iters) {
                RS_PAUSE();
                continue;
            }
            std::unique_lock<std::mutex> lock(pool->mutex);
            pool->cv_start.wait(lock, [&] {
                return pool->generation.load(std::memory_order_acquire) != seen || pool->stop.load();
            });
        }
        if (pool->stop.load()) return;
        seen = pool->generation.load(std::memory_order_acquire);
        run_job(pool, tid);
        if (pool->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard<std::mutex> lock(pool->mutex);
            pool->cv_done.notify_one();
        }
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
    pool->cv_start.notify_all();
    for (auto &t : pool->workers) t.join();
    delete pool;
}

void rs_thread_pool_run(rs_thread_pool *pool, const std::function<void(int, int)> &fn) {
    pool->error = nullptr;
    if (pool->n_threads == 1) {
        fn(0, 1);
        return;
    }
    pool->job = &fn;
    pool->pending.store(pool->n_threads - 1, std::memory_order_release);
    {
        std::lock_guard<std::mutex> lock(pool->mutex);
        pool->generation.fetch_add(1, std::memory_order_acq_rel);
    }
    pool->cv_start.notify_all();
    run_job(pool, 0);
    int spins = 0;
    while (pool->pending.load(std::memory_order_acquire) != 0) {
        if (++spins < k_spin_iters) {
            RS_PAUSE();
            continue;
        }
        std::unique_lock<std::mutex> lock(pool->mutex);
        pool->cv_done.wait(lock, [&] { return pool->pending.load(std::memory_order_acquire) == 0; });
    }
    pool->job = nullptr;
    if (pool->error) {
        std::exception_ptr e = pool->error;
        pool->error = nullptr;
        std::rethrow_exception(e);
    }
}

void rs_split_range(int n, int n_parts, int i, int align, int *begin, int *end) {
    const int units = (n + align - 1) / align;
    const int per = units / n_parts;
    const int extra = units % n_parts;
    const int u0 = i * per + (i < extra ? i : extra);
    const int u1 = u0 + per + (i < extra ? 1 : 0);
    *begin = u0 * align < n ? u0 * align : n;
    *end = u1 * align < n ? u1 * align : n;
}
