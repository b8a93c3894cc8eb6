// A small fork-join pool for the step's parallel sections.
// Workers spin briefly after a job (the next section of the same layer comes within microseconds)
// and then sleep on a condition variable: spin-only pools collapse when the cores are shared.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

struct rs_thread_pool {
    int n_threads = 1;
    std::vector<std::thread> workers;
    std::mutex mutex;
    std::condition_variable cv_start;
    std::condition_variable cv_done;
    std::atomic<uint64_t> generation{0};
    std::atomic<int> pending{0};
    std::atomic<bool> stop{false};
    const std::function<void(int, int)> *job = nullptr;
    std::exception_ptr error;
};

// Starts n_threads - 1 workers; the calling thread is thread 0 of every job.
rs_thread_pool *rs_thread_pool_init(int n_threads);
void rs_thread_pool_free(rs_thread_pool *pool);

// Runs fn(thread_index, n_threads) on every thread and returns when all are done.
// An exception thrown by any thread is rethrown here (the first one wins).
void rs_thread_pool_run(rs_thread_pool *pool, const std::function<void(int, int)> &fn);

// Splits [0, n) into n_parts ranges whose starts are multiples of `align`; returns part `i`.
void rs_split_range(int n, int n_parts, int i, int align, int *begin, int *end);
