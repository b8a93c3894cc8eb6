// AVX2 + FMA + F16C kernels, for x86-64 CPUs without AVX-512. Same structure as kernels-avx512.cc
// with 8-wide vectors; the k tail is finished with plain loops.
#include <immintrin.h>

#include "kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

template <int DT>
inline __m256 load_w(const uint8_t *row, int k) {
    if (DT == RS_DTYPE_F32) return _mm256_loadu_ps((const float *)row + k);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
    if (DT == RS_DTYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <int DT, int NR, int NT>
void tile(const float *x, int ldx, const uint8_t *w, size_t w_stride, int k_dim, const float *bias, float *y,
          int ldy, bool accumulate) {
    __m256 acc[NR][NT];
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) acc[i][j] = _mm256_setzero_ps();
    const int k_vec = k_dim & ~7;
    for (int k = 0; k < k_vec; k += 8) {
        __m256 xv[NT];
        for (int j = 0; j < NT; j++) xv[j] = _mm256_loadu_ps(x + (size_t)j * ldx + k);
        for (int i = 0; i < NR; i++) {
            const __m256 wv = load_w<DT>(w + i * w_stride, k);
            for (int j = 0; j < NT; j++) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < NR; i++) {
        const float b = bias ? bias[i] : 0.0f;
        for (int j = 0; j < NT; j++) {
            float s = hsum(acc[i][j]);
            for (int k = k_vec; k < k_dim; k++)
                s += x[(size_t)j * ldx + k] * rs_load_f32(w + i * w_stride, (rs_dtype)DT, k);
            s += b;
            float *out = y + (size_t)j * ldy + i;
            *out = accumulate ? *out + s : s;
        }
    }
}

template <int DT, int NR>
void tile_tokens(int nt, const float *x, int ldx, const uint8_t *w, size_t w_stride, int k_dim,
                 const float *bias, float *y, int ldy, bool accumulate) {
    switch (nt) {
        case 1:
            tile<DT, NR, 1>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate);
            break;
        case 2:
            tile<DT, NR, 2>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate);
            break;
        case 3:
            tile<DT, NR, 3>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate);
            break;
        default:
            tile<DT, NR, 4>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate);
            break;
    }
}

const int k_token_chunk = 64;

template <int DT>
void matmul_dt(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1, const float *bias,
               float *y, int ldy, bool accumulate) {
    const int k_dim = (int)w.cols;
    const size_t w_stride = (size_t)k_dim * (DT == RS_DTYPE_F32 ? 4 : 2);
    const uint8_t *base = (const uint8_t *)w.data;
    for (int t0 = 0; t0 < n_tokens; t0 += k_token_chunk) {
        const int t1 = t0 + k_token_chunk < n_tokens ? t0 + k_token_chunk : n_tokens;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            for (int t = t0; t < t1; t += 4) {
                const int nt = t1 - t < 4 ? t1 - t : 4;
                tile_tokens<DT, 4>(nt, x + (size_t)t * ldx, ldx, base + r * w_stride, w_stride, k_dim,
                                   bias ? bias + r : nullptr, y + (size_t)t * ldy + r, ldy, accumulate);
            }
        }
        for (; r < r1; r++) {
            for (int t = t0; t < t1; t += 4) {
                const int nt = t1 - t < 4 ? t1 - t : 4;
                tile_tokens<DT, 1>(nt, x + (size_t)t * ldx, ldx, base + r * w_stride, w_stride, k_dim,
                                   bias ? bias + r : nullptr, y + (size_t)t * ldy + r, ldy, accumulate);
            }
        }
    }
}

void matmul_avx2(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1, const float *bias,
                 float *y, int ldy, bool accumulate) {
    switch (w.dtype) {
        case RS_DTYPE_F32:
            matmul_dt<RS_DTYPE_F32>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_F16:
            matmul_dt<RS_DTYPE_F16>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_BF16:
            matmul_dt<RS_DTYPE_BF16>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        default:  // block-quantized
            rs_matmul_quant_avx2(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
    }
}

void attn_scores_avx2(const float *q, const float *k, int n, int head_dim, float scale, float *scores) {
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * head_dim;
        __m256 acc = _mm256_setzero_ps();
        int d = 0;
        for (; d + 8 <= head_dim; d += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(kj + d), acc);
        float sum = hsum(acc);
        for (; d < head_dim; d++) sum += q[d] * kj[d];
        scores[j] = sum * scale;
    }
}

void attn_values_avx2(const float *p, const float *v, int n, int head_dim, float *out) {
    int d = 0;
    for (; d + 8 <= head_dim; d += 8) {
        __m256 acc = _mm256_loadu_ps(out + d);
        for (int j = 0; j < n; j++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(v + (size_t)j * head_dim + d), acc);
        _mm256_storeu_ps(out + d, acc);
    }
    for (; d < head_dim; d++)
        for (int j = 0; j < n; j++) out[d] += p[j] * v[(size_t)j * head_dim + d];
}

}  // namespace

#pragma GCC pop_options

const rs_kernels_i rs_kernels_avx2 = {"avx2",           matmul_avx2,    attn_scores_avx2,
                                      attn_values_avx2, rs_softmax_ref, rs_silu_mul_ref};
