// The engine: model + KV pool + kernels + thread pool, and the operations the binding exposes.
// Calls on one engine must not overlap (the TypeScript wrapper queues them); rs_engine_step checks it.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "backend.h"
#include "collective.h"
#include "forward.h"
#include "sampling.h"
#include "speculative.h"

struct rs_engine_params {
    rs_model_config config;
    std::vector<rs_tensor_desc> tensors;
    rs_dtype kv_dtype = RS_DTYPE_F32;
    int num_blocks = 0;
    int block_size = 16;
    int n_threads = 1;
    std::string simd = "auto";       // "auto", "avx512", "avx2" or "reference"
    int tp_size = 1;                 // tensor-parallel ranks inside this engine (one thread each)
    std::string collective = "cpu";  // the collective between ranks: "cpu" or "nccl"
    std::string backend = "cpu";     // where ranks compute: "cpu" or "cuda" (rank r on device r)
    std::string cuda_library;        // path of the CUDA backend library (backend "cuda")
    std::string kv_shm_path;         // "": private pool; else the pool in this /dev/shm file (cpu, tp 1)
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
    int num_draft = 0;  // the last num_draft tokens are drafts to verify (speculative.h); needs sample
    // Prompt logprobs: empty, or one entry per token: the token that follows tokens[j] (whose
    // log-probability row j gives), -1 for rows not asked. Only asked rows reach the LM head.
    std::vector<int32_t> logprob_targets;
    int logprob_top_n = 0;  // alternatives per asked row
};

struct rs_step_output {
    bool present = false;  // false when the sequence neither sampled nor asked for logits
    rs_sample_result sample;
    std::vector<float> logits;  // [rows, vocab]
    // num_draft > 0: the accepted drafts, then the target's token (sample = the first of them).
    std::vector<rs_sample_result> verified;
    std::vector<rs_sample_result>
        target_logprobs;  // per token when logprob_targets was given (token -1: not asked)
};

struct rs_engine {
    // [tp_size]; tp_size 1 = the plain single-rank engine. Rank r holds its shard of the weights
    // (heads, MLP columns) and of the KV pool (its KV heads; block id b is the same block in every
    // rank), and its own threads and scratch.
    std::vector<rs_backend *> ranks;
    void *cuda_lib = nullptr;  // dlopen handle of the CUDA backend, when used
    rs_collective *coll = nullptr;
    const rs_kernels_i *kernels = nullptr;
    int vocab_size = 0;
    int num_blocks = 0;
    size_t bytes_per_block = 0;  // all ranks: a block's shards, concatenated in rank order
    size_t weight_bytes = 0;     // all ranks (replicated tensors counted once per rank)
    int n_threads = 0;           // all ranks
    std::vector<float> logits;   // [rows, vocab], written by every rank (its vocab slice)
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
