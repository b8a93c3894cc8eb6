// A small fork-join pool for the step's parallel sections, built to survive shared cores.
// Work is split into chunks that threads claim one at a time from a single atomic word, so the
// calling thread never waits for a worker that the OS has not scheduled yet: whoever runs takes the
// next chunk, and a worker that wakes up late finds the job finished and goes back to sleep.
// Idle workers spin for up to 100 us (the next section of a layer comes within microseconds), then
// sleep on a condition variable (measured: spin-only pools collapse when the cores are shared).
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

struct rs_thread_pool {
    int n_threads = 1;
    std::vector<std::thread> workers;
    std::mutex mutex;
    std::condition_variable cv;
    std::atomic<int> sleepers{0};
    // generation (24 bits) | number of chunks (20 bits) | next chunk to claim (20 bits)
    std::atomic<uint64_t> state{0};
    std::atomic<int> done{0};  // chunks finished in the current job
    std::atomic<bool> stop{false};
    const std::function<void(int, int)> *job = nullptr;
    std::mutex error_mutex;
    std::exception_ptr error;
};

// Starts n_threads - 1 workers; the calling thread also works on every job.
rs_thread_pool *rs_thread_pool_init(int n_threads);
void rs_thread_pool_free(rs_thread_pool *pool);

// Runs fn(chunk, thread_index) for every chunk in [0, n_chunks) and returns when all are done.
// thread_index < n_threads selects per-thread scratch. The first exception thrown is rethrown here.
void rs_thread_pool_run(rs_thread_pool *pool, int n_chunks, const std::function<void(int, int)> &fn);
