// A memory read-bandwidth probe: the roofline that batch-1 decode is measured against
// (bench/peer reports decode as a fraction of bandwidth / weight bytes per token).
#pragma once

#include <cstddef>

// Reads a `bytes` buffer (allocated and touched first) with `n_threads` threads, each its own
// contiguous slice, `reps` times; returns the best rate in GB/s (1e9 bytes per second).
double rs_read_bandwidth_gbs(size_t bytes, int n_threads, int reps);
