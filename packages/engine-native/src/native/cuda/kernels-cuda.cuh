// CUDA kernels of the forward pass. Each mirrors a plain loop of forward.cc (the CPU reference the
// GPU suite in test/gpu compares logits against). f32 activations, row-major, like the CPU pass.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

// x[t, :] = embed[tok[t], :]                       embed [vocab, hidden]
void rs_cuda_embed(const float *embed, const int32_t *tok, float *x, int T, int hidden, cudaStream_t s);
// y[t] = x[t] / rms(x[t]) * w                       x, y [rows, n]
void rs_cuda_rmsnorm(const float *x, const float *w, float *y, int rows, int n, float eps, cudaStream_t s);
// y[t, :] += bias                                    y [rows, n]
void rs_cuda_add_bias(float *y, const float *bias, int rows, int n, cudaStream_t s);
// y += x (n elements)
void rs_cuda_add(float *y, const float *x, size_t n, cudaStream_t s);
// RoPE (HF rotate_half) on vec [T, n_heads, head_dim] at positions pos[T] with inv_freq [head_dim/2].
void rs_cuda_rope(float *vec, const int32_t *pos, const float *inv_freq, int T, int n_heads, int head_dim,
                  cudaStream_t s);
// Writes k, v [T, n_kv, head_dim] into the paged pool [block][layer][k|v][kv_head][slot][head_dim] (f32)
// at block_table[seq_of[t]][pos[t] / bs], slot pos[t] % bs. `tables` is the flattened block tables,
// `table_off[i]` the start of sequence i's table.
void rs_cuda_kv_store(float *pool, const float *k, const float *v, const int32_t *pos, const int32_t *seq_of,
                      const int32_t *tables, const int32_t *table_off, int T, int layer, int n_layers,
                      int n_kv, int head_dim, int bs, cudaStream_t s);
// Paged attention for prefill and decode tokens alike: token t, query head h attends positions
// 0..pos[t] of its sequence (causal), K/V read from the pool. One warp per (t, h), online softmax.
// q, out [T, n_heads, head_dim]; head_dim <= 256.
void rs_cuda_attention(const float *q, const float *pool, float *out, const int32_t *pos,
                       const int32_t *seq_of, const int32_t *tables, const int32_t *table_off, int T,
                       int layer, int n_layers, int n_heads, int n_kv, int head_dim, int bs, float scale,
                       cudaStream_t s);
// gate[t, i] = silu(gate[t, i]) * up[t, i]
void rs_cuda_silu_mul(float *gate, const float *up, size_t n, cudaStream_t s);
// dst[r, :] = src[rows[r], :]                        src [*, n], dst [R, n]
void rs_cuda_gather_rows(const float *src, const int32_t *rows, float *dst, int R, int n, cudaStream_t s);
