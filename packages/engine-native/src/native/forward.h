// One batched forward step over a mixed batch of prefill chunks and decode tokens.
#pragma once

#include <vector>

#include "collective.h"
#include "kernels.h"
#include "kv-pool.h"
#include "model.h"
#include "thread-pool.h"

// One sequence's share of the step (already validated by TypeScript; re-checked cheaply here).
struct rs_batch_seq {
    const int32_t *tokens = nullptr;  // [n_tokens]
    int n_tokens = 0;
    int start_pos = 0;
    const int32_t *block_table = nullptr;  // [n_blocks]
    int n_blocks = 0;
};

// Scratch buffers reused across steps (grown, never shrunk).
struct rs_forward_scratch {
    rs_f32_buffer x, xn, q, k, v, att, gate, up;  // see the shape comments in forward.cc
    rs_f32_buffer rope_cos, rope_sin;
    rs_f32_buffer scores;  // [n_threads][query tile][max position in the batch, rounded up to 16]
    rs_f32_buffer kv_row;  // [n_threads][block_size][head_dim], f16/bf16 V rows widened to f32
    rs_f32_buffer xf;
    rs_f32_buffer part;  // [T, hidden] this rank's partial o_proj / down_proj output (TP only)
};

// Runs the step for one tensor-parallel rank. `logit_rows` lists the flat token indices (in batch
// order) that need logits; `logits` (sized [logit_rows.size(), vocab] by the caller, shared by all
// ranks) receives the raw logits: each rank writes its own vocab slice. With `coll` null (or one rank)
// this is the plain single-rank pass; otherwise every rank of `coll` runs it at the same time on the
// same batch, with its own model shard, KV pool shard, pool and scratch.
void rs_forward(const rs_model &model, rs_kv_pool &kv, const rs_kernels_i &kern, rs_thread_pool *pool,
                rs_forward_scratch &s, const std::vector<rs_batch_seq> &batch,
                const std::vector<int> &logit_rows, float *logits, rs_collective *coll, int rank);
