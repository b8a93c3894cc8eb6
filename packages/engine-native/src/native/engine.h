// The engine: model + KV pool + kernels + thread pool, and the operations the binding exposes.
// Calls on one engine must not overlap (the TypeScript wrapper queues them); rs_engine_step checks it.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "forward.h"
#include "sampling.h"

struct rs_engine_params {
    rs_model_config config;
    std::vector<rs_tensor_desc> tensors;
    rs_dtype kv_dtype = RS_DTYPE_F32;
    int num_blocks = 0;
    int block_size = 16;
    int n_threads = 1;
    std::string simd = "auto";  // "auto", "avx512", "avx2" or "reference"
};

enum rs_logits_mode {
    RS_LOGITS_MODE_NONE = 0,
    RS_LOGITS_MODE_LAST = 1,
    RS_LOGITS_MODE_ALL = 2,
};

struct rs_step_seq {
    std::vector<int32_t> tokens;
    int start_pos = 0;
    std::vector<int32_t> block_table;
    bool sample = false;
    rs_sampling_params sampling;
    std::vector<int32_t> prompt_tokens;
    std::vector<int32_t> output_tokens;
    rs_logits_mode logits_mode = RS_LOGITS_MODE_NONE;
};

struct rs_step_output {
    bool present = false;  // false when the sequence neither sampled nor asked for logits
    rs_sample_result sample;
    std::vector<float> logits;  // [rows, vocab]
};

struct rs_engine {
    rs_model *model = nullptr;
    rs_kv_pool *kv = nullptr;
    const rs_kernels_i *kernels = nullptr;
    rs_thread_pool *pool = nullptr;
    rs_forward_scratch scratch;
    std::vector<float> logits;
    std::vector<float> sample_scratch;
    std::atomic<bool> busy{false};
};

rs_engine *rs_engine_init(const rs_engine_params &params);
void rs_engine_free(rs_engine *engine);

std::vector<rs_step_output> rs_engine_step(rs_engine *engine, const std::vector<rs_step_seq> &seqs);
void rs_engine_export(rs_engine *engine, const std::vector<int32_t> &blocks, uint8_t *out, size_t out_len);
void rs_engine_import(rs_engine *engine, const std::vector<int32_t> &blocks, const uint8_t *in,
                      size_t in_len);
void rs_engine_copy(rs_engine *engine, const std::vector<int32_t> &src, const std::vector<int32_t> &dst);
