#include "bandwidth-probe.h"

#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "common.h"

namespace {

// Sums 64-byte lines with 256-bit loads (AVX2 is enough to saturate memory; the sum keeps the
// loads from being optimised away).
__attribute__((target("avx2"))) uint64_t read_slice(const uint8_t *p, size_t n) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (size_t i = 0; i + 64 <= n; i += 64) {
        acc0 = _mm256_add_epi64(acc0, _mm256_load_si256((const __m256i *)(p + i)));
        acc1 = _mm256_add_epi64(acc1, _mm256_load_si256((const __m256i *)(p + i + 32)));
    }
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256((__m256i *)lanes, _mm256_add_epi64(acc0, acc1));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

}  // namespace

double rs_read_bandwidth_gbs(size_t bytes, int n_threads, int reps) {
    RS_CHECK(n_threads >= 1 && reps >= 1 && bytes >= (size_t)n_threads * 4096,
             "bad bandwidth probe arguments");
    RS_CHECK(__builtin_cpu_supports("avx2"), "the bandwidth probe needs AVX2");
    bytes = bytes / ((size_t)n_threads * 64) * ((size_t)n_threads * 64);
    uint8_t *buf = (uint8_t *)std::aligned_alloc(64, bytes);
    RS_CHECK(buf != nullptr, "bandwidth probe: out of memory");
    std::memset(buf, 1, bytes);
    const size_t slice = bytes / (size_t)n_threads;
    std::atomic<uint64_t> sink{0};
    double best = 0.0;
    for (int r = 0; r < reps; r++) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> ts;
        for (int t = 1; t < n_threads; t++)
            ts.emplace_back([&, t] { sink += read_slice(buf + (size_t)t * slice, slice); });
        sink += read_slice(buf, slice);
        for (auto &t : ts) t.join();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if ((double)bytes / s / 1e9 > best) best = (double)bytes / s / 1e9;
    }
    std::free(buf);
    return sink.load() == 0 ? best : best;  // the sum only keeps the loads alive
}
