// AVX-512 kernels. Compiled for AVX-512 with a target pragma (not -march=native), so the binary
// still loads on CPUs without it; kernels.cc only hands these out when the CPU supports them.
// All headers are included before the pragma so no shared inline code is built with AVX-512.
#include <immintrin.h>

#include "kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
// GCC 12's own AVX-512 headers trip these (their "undefined" pass-through operands).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// Loads 16 weights starting at element k of a row and widens them to f32 in registers
// (bf16: shift left 16; f16: vcvtph2ps), so f16/bf16 weights are never expanded in memory.
template <int DT>
inline __m512 load_w(const uint8_t *row, int k) {
    if (DT == RS_DTYPE_F32) return _mm512_loadu_ps((const float *)row + k);
    const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + k));
    if (DT == RS_DTYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <int DT>
inline __m512 load_w_mask(const uint8_t *row, int k, __mmask16 m) {
    if (DT == RS_DTYPE_F32) return _mm512_maskz_loadu_ps(m, (const float *)row + k);
    const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k);
    if (DT == RS_DTYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Register-blocked micro-kernel: NR weight rows x NT tokens of accumulators over the k dimension.
// Each weight vector is loaded once and used NT times; each token vector is used NR times.
template <int DT, int NR, int NT>
void tile(const float *x, int ldx, const uint8_t *w, size_t w_stride, int k_dim, const float *bias, float *y,
          int ldy, bool accumulate) {
    const size_t k_elem = DT == RS_DTYPE_F32 ? 4 : 2;
    __m512 acc[NR][NT];
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) acc[i][j] = _mm512_setzero_ps();
    const int k_vec = k_dim & ~15;
    for (int k = 0; k < k_vec; k += 16) {
        __m512 xv[NT];
        for (int j = 0; j < NT; j++) xv[j] = _mm512_loadu_ps(x + (size_t)j * ldx + k);
        for (int i = 0; i < NR; i++) {
            // GEMV streams every weight once: prefetching 2 KB ahead per row measured ~15% faster
            // decode than leaving it to the hardware prefetcher alone.
            if (NT == 1)
                _mm_prefetch((const char *)(w + i * w_stride) + (size_t)k * k_elem + 2048, _MM_HINT_T0);
            const __m512 wv = load_w<DT>(w + i * w_stride, k);
            for (int j = 0; j < NT; j++) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    if (k_vec < k_dim) {
        const __mmask16 m = (__mmask16)((1u << (k_dim - k_vec)) - 1);
        __m512 xv[NT];
        for (int j = 0; j < NT; j++) xv[j] = _mm512_maskz_loadu_ps(m, x + (size_t)j * ldx + k_vec);
        for (int i = 0; i < NR; i++) {
            const __m512 wv = load_w_mask<DT>(w + i * w_stride, k_vec, m);
            for (int j = 0; j < NT; j++) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < NR; i++) {
        const float b = bias ? bias[i] : 0.0f;
        for (int j = 0; j < NT; j++) {
            float *out = y + (size_t)j * ldy + i;
            const float s = _mm512_reduce_add_ps(acc[i][j]) + b;
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

// Tokens are processed in chunks small enough that the chunk's activations stay in L2 while every
// 4-row weight block of this thread's range streams past them once.
const int k_token_chunk = 64;
// Weight rows per prefill tile: 6 rows x 4 tokens = 24 accumulators, plus 4 token vectors and one
// weight vector, fits the 32 zmm registers; 10 loads feed 24 FMAs.
const int k_rows = 6;

template <int DT>
void matmul_dt(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1, const float *bias,
               float *y, int ldy, bool accumulate) {
    const int k_dim = (int)w.cols;
    const size_t w_stride = (size_t)k_dim * (DT == RS_DTYPE_F32 ? 4 : 2);
    const uint8_t *base = (const uint8_t *)w.data;
    if (n_tokens == 1) {  // GEMV: 8 rows at a time for more independent accumulators
        int r = r0;
        for (; r + 8 <= r1; r += 8)
            tile<DT, 8, 1>(x, ldx, base + r * w_stride, w_stride, k_dim, bias ? bias + r : nullptr, y + r,
                           ldy, accumulate);
        for (; r < r1; r++)
            tile<DT, 1, 1>(x, ldx, base + r * w_stride, w_stride, k_dim, bias ? bias + r : nullptr, y + r,
                           ldy, accumulate);
        return;
    }
    for (int t0 = 0; t0 < n_tokens; t0 += k_token_chunk) {
        const int t1 = t0 + k_token_chunk < n_tokens ? t0 + k_token_chunk : n_tokens;
        int r = r0;
        for (; r + k_rows <= r1; r += k_rows) {
            for (int t = t0; t < t1; t += 4) {
                const int nt = t1 - t < 4 ? t1 - t : 4;
                tile_tokens<DT, k_rows>(nt, x + (size_t)t * ldx, ldx, base + r * w_stride, w_stride, k_dim,
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

void matmul_avx512(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                   const float *bias, float *y, int ldy, bool accumulate) {
    switch (w.dtype) {
        case RS_DTYPE_F32:
            matmul_dt<RS_DTYPE_F32>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_F16:
            matmul_dt<RS_DTYPE_F16>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        default:
            matmul_dt<RS_DTYPE_BF16>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
    }
}

inline __mmask16 tail_mask(int left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

void attn_scores_avx512(const float *q, const float *k, int n, int head_dim, float scale, float *scores) {
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * head_dim;
        __m512 acc0 = _mm512_setzero_ps();
        __m512 acc1 = _mm512_setzero_ps();
        int d = 0;
        for (; d + 32 <= head_dim; d += 32) {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(kj + d), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d + 16), _mm512_loadu_ps(kj + d + 16), acc1);
        }
        for (; d < head_dim; d += 16) {
            const __mmask16 m = tail_mask(head_dim - d);
            acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), _mm512_maskz_loadu_ps(m, kj + d), acc0);
        }
        scores[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) * scale;
    }
}

// Keeps a 16-wide slice of `out` in a register across all n value rows.
void attn_values_avx512(const float *p, const float *v, int n, int head_dim, float *out) {
    for (int d = 0; d < head_dim; d += 16) {
        const __mmask16 m = tail_mask(head_dim - d);
        __m512 acc = _mm512_maskz_loadu_ps(m, out + d);
        for (int j = 0; j < n; j++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]),
                                  _mm512_maskz_loadu_ps(m, v + (size_t)j * head_dim + d), acc);
        _mm512_mask_storeu_ps(out + d, m, acc);
    }
}

}  // namespace

#pragma GCC pop_options

const rs_kernels_i rs_kernels_avx512 = {"avx512", matmul_avx512, attn_scores_avx512, attn_values_avx512};
