// Where one tensor-parallel rank computes, as a small vtable (ggml-backend style): the CPU backend
// (backend-cpu.cc: the forward pass of forward.cc on a thread pool, KV pool in host memory) and the
// CUDA backend (cuda/backend-cuda.cu: weights and KV pool on one device, cuBLAS GEMMs, its own
// kernels), built only where a CUDA toolkit exists and loaded at run time from a shared library.
// The engine holds one backend per rank and never looks inside one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "collective.h"
#include "forward.h"

struct rs_backend;

struct rs_backend_i {
    const char *name;  // "cpu" or "cuda"
    // One step of this rank (every rank runs it at once on the same batch; see rs_forward).
    // `logits` is host memory [logit_rows.size(), vocab]; the rank fills its vocab slice.
    void (*forward)(rs_backend *b, const std::vector<rs_batch_seq> &batch, const std::vector<int> &logit_rows,
                    float *logits, rs_collective *coll, int rank);
    // This rank's shard of block blocks[i] to/from host memory at base + i * stride (stride >= the
    // shard's size: the engine interleaves the ranks' shards of a block). Ids are already checked.
    void (*kv_export)(rs_backend *b, const int32_t *blocks, int n, uint8_t *base, size_t stride);
    void (*kv_import)(rs_backend *b, const int32_t *blocks, int n, const uint8_t *base, size_t stride);
    void (*kv_copy)(rs_backend *b, const int32_t *src, const int32_t *dst, int n);
    void (*free)(rs_backend *b);
    // Host address of this rank's shard of `block` (kv_bytes_per_block bytes), or nullptr when the
    // pool is not in host memory (then the KV data plane copies through kv_export/kv_import).
    // Optional: a backend that leaves it null is treated as "not in host memory".
    uint8_t *(*kv_block_data)(rs_backend *b, int32_t block);
};

struct rs_backend {
    const rs_backend_i *iface = nullptr;
    void *context = nullptr;
    size_t kv_bytes_per_block = 0;  // this rank's shard of one block
    size_t weight_bytes = 0;        // this rank's weights as used
    int n_threads = 1;              // host threads this rank computes with
    std::string kv_shared_path;     // where other processes map this rank's pool ("" when private)
};

// What every backend needs to build one rank. `model` is the rank's host model (mapped weights,
// already sliced): the CPU backend takes ownership of it; the CUDA backend only uploads it (the
// engine frees it after rs_backend_cuda_init returns, which also keeps the CUDA library free of any
// symbol of the addon).
struct rs_backend_params {
    rs_model *model = nullptr;
    const rs_kernels_i *kernels = nullptr;
    rs_dtype kv_dtype = RS_DTYPE_F32;
    int num_blocks = 0;
    int block_size = 16;
    int n_threads = 1;
    int device = 0;           // CUDA device ordinal of this rank
    std::string kv_shm_path;  // CPU only: the KV pool in this /dev/shm file (rs_kv_pool_init)
};

rs_backend *rs_backend_cpu_init(const rs_backend_params &p);

// The CUDA backend lives in a separate shared library (built by scripts/build-cuda.mjs where nvcc is
// found) exporting these C entry points; the engine loads it with dlopen.
typedef rs_backend *(*rs_backend_cuda_init_fn)(const rs_backend_params *p, char *err, size_t err_len);
typedef int (*rs_backend_cuda_device_count_fn)(char *err, size_t err_len);
#define RS_BACKEND_CUDA_INIT_SYMBOL "rs_backend_cuda_init"
#define RS_BACKEND_CUDA_DEVICE_COUNT_SYMBOL "rs_backend_cuda_device_count"

// Loads the CUDA backend library (RADIXSERVE_CUDA_BACKEND or build/cuda/librs_cuda.so next to the
// addon) and checks that `n_devices` devices are visible. Throws one line saying what is missing.
struct rs_cuda_library {
    void *lib = nullptr;
    rs_backend_cuda_init_fn init = nullptr;
    rs_backend_cuda_device_count_fn device_count = nullptr;
};
rs_cuda_library rs_cuda_library_load(const std::string &path, int n_devices);
