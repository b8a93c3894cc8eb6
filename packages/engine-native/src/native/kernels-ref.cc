// Plain-loop kernels: the scalar fallback and the reference the SIMD kernels are tested against.
#include <cmath>

#include "kernels.h"

void rs_matmul_dequant_ref(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                           const float *bias, float *y, int ldy, bool accumulate) {
    const int k_dim = (int)w.cols;
    const size_t row_bytes = rs_row_bytes(w.dtype, k_dim);
    thread_local rs_f32_buffer row;  // [K] one dequantized weight row
    row.resize((size_t)k_dim);
    for (int r = r0; r < r1; r++) {
        rs_dequantize_row(w.dtype, (const uint8_t *)w.data + (size_t)r * row_bytes, row.data(), k_dim);
        for (int t = 0; t < n_tokens; t++) {
            const float *xt = x + (size_t)t * ldx;  // [K]
            // 16 running sums (lane k % 16), added at the end: plain f32 arithmetic the compiler can
            // keep in vector registers (one running sum would serialize every add).
            float lanes[16] = {};
            int k = 0;
            for (; k + 16 <= k_dim; k += 16)
                for (int i = 0; i < 16; i++) lanes[i] += xt[k + i] * row[k + i];
            float sum = 0.0f;
            for (; k < k_dim; k++) sum += xt[k] * row[k];
            for (int i = 0; i < 16; i++) sum += lanes[i];
            if (bias) sum += bias[r];
            float *out = y + (size_t)t * ldy + r;
            *out = accumulate ? *out + sum : sum;
        }
    }
}

static void matmul_ref(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                       const float *bias, float *y, int ldy, bool accumulate) {
    if (rs_dtype_is_quant(w.dtype)) {
        rs_matmul_dequant_ref(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
        return;
    }
    const int k_dim = (int)w.cols;
    for (int t = 0; t < n_tokens; t++) {
        const float *xt = x + (size_t)t * ldx;  // [K]
        for (int r = r0; r < r1; r++) {
            const uint8_t *row = (const uint8_t *)w.data + (size_t)r * k_dim * rs_dtype_size(w.dtype);  // [K]
            float sum = 0.0f;
            for (int k = 0; k < k_dim; k++) sum += xt[k] * rs_load_f32(row, w.dtype, k);
            if (bias) sum += bias[r];
            float *out = y + (size_t)t * ldy + r;
            *out = accumulate ? *out + sum : sum;
        }
    }
}

static void attn_scores_ref(const float *q, const float *k, int n, int head_dim, float scale, float *scores) {
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * head_dim;  // [head_dim]
        float sum = 0.0f;
        for (int d = 0; d < head_dim; d++) sum += q[d] * kj[d];
        scores[j] = sum * scale;
    }
}

static void attn_values_ref(const float *p, const float *v, int n, int head_dim, float *out) {
    for (int j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * head_dim;  // [head_dim]
        for (int d = 0; d < head_dim; d++) out[d] += p[j] * vj[d];
    }
}

void rs_softmax_ref(float *x, int n, float scale) {
    float max_score = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] *= scale;
        if (x[i] > max_score) max_score = x[i];
    }
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = std::exp(x[i] - max_score);
        sum += x[i];
    }
    const float inv_sum = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv_sum;
}

void rs_silu_mul_ref(float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

const rs_kernels_i rs_kernels_ref = {"reference",     matmul_ref,     attn_scores_ref,
                                     attn_values_ref, rs_softmax_ref, rs_silu_mul_ref};
