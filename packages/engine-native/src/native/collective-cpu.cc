// The CPU collective: tensor-parallel ranks are threads of one process, so an all-reduce needs no
// copies through a shared staging area. Each rank publishes its buffer pointer; after a barrier,
// rank r sums slice r of every rank's buffer (in rank order, so every rank gets bit-identical sums
// and the result does not depend on thread timing) and writes that sum back into every buffer; a
// second barrier ends the call. Two barriers per all-reduce, and the summing is split across ranks.
//
// The barrier spins for up to 100 us (the partner rank usually arrives within microseconds) and
// then sleeps on a condition variable: spin-only waiting was measured collapsing when the two
// cores are shared with other processes.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "collective.h"
#include "common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define RS_COLL_PAUSE() _mm_pause()
#else
#define RS_COLL_PAUSE() std::this_thread::yield()
#endif

namespace {

struct cpu_collective {
    int n = 1;
    std::atomic<int> count{0};
    std::atomic<uint32_t> gen{0};
    std::atomic<bool> aborted{false};
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<void *> ptrs;  // [n] the buffer each rank passed to the current collective
};

cpu_collective *ctx_of(rs_collective *c) {
    return (cpu_collective *)c->context;
}

void check_aborted(const cpu_collective *cc) {
    if (cc->aborted.load()) throw rs_collective_aborted();
}

void barrier_wait(cpu_collective *cc) {
    check_aborted(cc);
    const uint32_t g = cc->gen.load(std::memory_order_acquire);
    if (cc->count.fetch_add(1, std::memory_order_acq_rel) + 1 == cc->n) {
        cc->count.store(0, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(cc->mutex);
            cc->gen.store(g + 1, std::memory_order_release);
        }
        cc->cv.notify_all();
        return;
    }
    const auto start = std::chrono::steady_clock::now();
    int spins = 0;
    while (cc->gen.load(std::memory_order_acquire) == g && !cc->aborted.load()) {
        if ((++spins & 63) == 0 &&
            std::chrono::steady_clock::now() - start > std::chrono::microseconds(100)) {
            std::unique_lock<std::mutex> lock(cc->mutex);
            cc->cv.wait(lock, [&] { return cc->gen.load() != g || cc->aborted.load(); });
            break;
        }
        RS_COLL_PAUSE();
    }
    check_aborted(cc);
}

void cpu_all_reduce_sum(rs_collective *c, int rank, float *data, size_t n) {
    cpu_collective *cc = ctx_of(c);
    if (cc->n == 1) return;
    cc->ptrs[rank] = data;
    barrier_wait(cc);
    const size_t i0 = n * (size_t)rank / (size_t)cc->n;
    const size_t i1 = n * (size_t)(rank + 1) / (size_t)cc->n;
    float *first = (float *)cc->ptrs[0];
    for (size_t i = i0; i < i1; i++) {
        float s = first[i];
        for (int q = 1; q < cc->n; q++) s += ((const float *)cc->ptrs[q])[i];
        for (int q = 0; q < cc->n; q++) ((float *)cc->ptrs[q])[i] = s;
    }
    barrier_wait(cc);
}

void cpu_broadcast(rs_collective *c, int rank, void *data, size_t bytes, int root) {
    cpu_collective *cc = ctx_of(c);
    RS_CHECK(root >= 0 && root < cc->n, "broadcast root out of range");
    if (cc->n == 1) return;
    cc->ptrs[rank] = data;
    barrier_wait(cc);
    if (rank != root) std::memcpy(data, cc->ptrs[root], bytes);
    barrier_wait(cc);
}

void cpu_barrier(rs_collective *c, int) {
    barrier_wait(ctx_of(c));
}

void cpu_set_stream(rs_collective *, int, void *) {}

void cpu_abort(rs_collective *c) {
    cpu_collective *cc = ctx_of(c);
    {
        std::lock_guard<std::mutex> lock(cc->mutex);
        cc->aborted.store(true);
    }
    cc->cv.notify_all();
}

void cpu_reset(rs_collective *c) {
    cpu_collective *cc = ctx_of(c);
    cc->count.store(0);
    cc->aborted.store(false);
}

void cpu_free(rs_collective *c) {
    delete ctx_of(c);
    delete c;
}

const rs_collective_i cpu_iface = {
    "cpu", cpu_all_reduce_sum, cpu_broadcast, cpu_barrier, cpu_set_stream, cpu_abort, cpu_reset, cpu_free,
};

}  // namespace

rs_collective *rs_collective_cpu_init(int n_ranks) {
    RS_CHECK(n_ranks >= 1, "collective needs at least one rank");
    auto *cc = new cpu_collective();
    cc->n = n_ranks;
    cc->ptrs.assign((size_t)n_ranks, nullptr);
    auto *c = new rs_collective();
    c->iface = &cpu_iface;
    c->context = cc;
    c->n_ranks = n_ranks;
    return c;
}

rs_collective *rs_collective_init(const std::string &kind, int n_ranks) {
    if (kind == "cpu") return rs_collective_cpu_init(n_ranks);
    if (kind == "nccl") return rs_collective_nccl_init(n_ranks, "");
    RS_CHECK(false, "unknown collective '" + kind + "' (known: cpu, nccl)");
}

void rs_collective_free(rs_collective *c) {
    if (c) c->iface->free(c);
}
