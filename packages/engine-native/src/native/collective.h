// Collectives between tensor-parallel ranks, as a small vtable (ggml-backend style): the forward pass
// calls all_reduce_sum after the row-split projections (o_proj, down_proj) and never knows whether the
// ranks are threads sharing memory (collective-cpu.cc) or GPUs talking through NCCL/RCCL
// (collective-nccl.cc, loaded with dlopen at run time so CPU builds need neither library).
//
// Contract for every implementation:
// - Every rank calls the same collectives in the same order with the same sizes (SPMD).
// - Calls block until the collective is complete for the calling rank's buffer.
// - The sum is deterministic and identical on every rank (the CPU one adds ranks in rank order).
// - abort() may be called from any thread (a rank that threw); ranks blocked in, or later entering,
//   a collective throw rs_error instead of waiting forever. reset() re-arms it once no rank runs.
#pragma once

#include <cstddef>
#include <string>

#include "common.h"

struct rs_collective;

// Thrown by a rank whose collective call found the collective aborted because another rank failed:
// an echo of that failure, not its cause (rs_engine_step reports the cause, found by this type).
class rs_collective_aborted : public rs_error {
  public:
    rs_collective_aborted() : rs_error("collective aborted: another tensor-parallel rank failed") {}
};

struct rs_collective_i {
    const char *name;  // "cpu" or "nccl"
    // data[i] = sum over ranks of data[i] (f32, n elements; a device pointer for device collectives).
    void (*all_reduce_sum)(rs_collective *c, int rank, float *data, size_t n);
    // Every rank's data becomes a copy of `root`'s (bytes long).
    void (*broadcast)(rs_collective *c, int rank, void *data, size_t bytes, int root);
    // Returns when every rank has entered it.
    void (*barrier)(rs_collective *c, int rank);
    // Device collectives are stream-ordered: the backend names the stream rank `rank` computes on
    // (a cudaStream_t) before its first collective. Host collectives ignore it.
    void (*set_stream)(rs_collective *c, int rank, void *stream);
    void (*abort)(rs_collective *c);
    void (*reset)(rs_collective *c);
    void (*free)(rs_collective *c);
};

struct rs_collective {
    const rs_collective_i *iface = nullptr;
    void *context = nullptr;
    int n_ranks = 1;
};

// The CPU collective: ranks are threads of this process; buffers are host memory.
rs_collective *rs_collective_cpu_init(int n_ranks);

// The NCCL collective (RCCL has the same API): loads `library` ("" = libnccl.so.2, then
// librccl.so.1) with dlopen and creates one communicator per device in `devices` (single process,
// ncclCommInitAll). Throws a one-line rs_error when the library or a symbol is missing.
rs_collective *rs_collective_nccl_init(int n_ranks, const std::string &library);

// The registry: "cpu" or "nccl" (configuration picks; unknown names throw, listing the known ones).
rs_collective *rs_collective_init(const std::string &kind, int n_ranks);
void rs_collective_free(rs_collective *c);
