// The compute kernels behind the forward pass, as a small vtable (ggml-backend style).
// kernels-ref.cc holds the plain-loop versions: they are the scalar fallback and the test reference
// for the SIMD versions (kernels-avx2.cc, kernels-avx512.cc), which are picked at load time.
#pragma once

#include <string>

#include "quant.h"
#include "weights.h"

struct rs_kernels_i {
    const char *name;  // "reference", "avx2" or "avx512"
    // y[t * ldy + r] = (accumulate ? y[t * ldy + r] : 0) + bias[r] + sum_k x[t * ldx + k] * W[r, k]
    // for output rows r in [r0, r1) and tokens t in [0, n_tokens). W is f32, f16 or bf16 [rows, K];
    // bias may be null. Threads call it on disjoint row ranges. W may also be block-quantized
    // (quant.h): the SIMD tables dequantize it in registers (kernels-quant-*.cc), the reference
    // table a row at a time (rs_matmul_dequant_ref).
    void (*matmul)(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                   const float *bias, float *y, int ldy, bool accumulate);
    // Attention over one KV block slab: scores[j] = scale * dot(q, k[j]) for keys j in [0, n),
    // k is [n, head_dim] row-major.
    void (*attn_scores)(const float *q, const float *k, int n, int head_dim, float scale, float *scores);
    // out[d] += sum_j p[j] * v[j, d], v is [n, head_dim] row-major.
    void (*attn_values)(const float *p, const float *v, int n, int head_dim, float *out);
    // In place: x[i] = exp(scale * x[i] - max) / sum over i in [0, n) (n >= 1).
    void (*softmax)(float *x, int n, float scale);
    // In place: g[i] = SiLU(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i] for i in [0, n).
    void (*silu_mul)(float *g, const float *u, int n);
};

extern const rs_kernels_i rs_kernels_ref;
// The plain matmul of block-quantized weights (the reference table's, the exact path's, and the
// SIMD kernels' test reference): each row dequantized to f32, then a plain f32 dot per token.
void rs_matmul_dequant_ref(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                           const float *bias, float *y, int ldy, bool accumulate);
// The plain softmax and SiLU-mul, also used by the AVX2 table (std::exp; no AVX2 version yet).
void rs_softmax_ref(float *x, int n, float scale);
void rs_silu_mul_ref(float *g, const float *u, int n);
extern const rs_kernels_i rs_kernels_avx2;
// The SIMD tables' matmul for block-quantized weights (kernels-quant-avx2.cc, kernels-quant-avx512.cc).
void rs_matmul_quant_avx2(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                          const float *bias, float *y, int ldy, bool accumulate);
void rs_matmul_quant_avx512(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                            const float *bias, float *y, int ldy, bool accumulate);
extern const rs_kernels_i rs_kernels_avx512;

// "auto" picks the best the CPU supports; "avx512", "avx2" or "reference" (= scalar) force one and
// throw when the CPU lacks it.
const rs_kernels_i &rs_kernels_select(const std::string &want);
