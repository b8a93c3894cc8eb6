// AVX-512 kernels. Compiled for AVX-512 with a target pragma (not -march=native), so the binary
// still loads on CPUs without it; kernels.cc only hands these out when the CPU supports them.
// All headers are included before the pragma so no shared inline code is built with AVX-512.
#include <immintrin.h>

#include <cmath>
#include <cstddef>

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
          int ldy, bool accumulate, ptrdiff_t pf = 2048) {
    const size_t k_elem = DT == RS_DTYPE_F32 ? 4 : 2;
    __m512 acc[NR][NT];
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) acc[i][j] = _mm512_setzero_ps();
    const int k_vec = k_dim & ~15;
    for (int k = 0; k < k_vec; k += 16) {
        __m512 xv[NT];
        for (int j = 0; j < NT; j++) xv[j] = _mm512_loadu_ps(x + (size_t)j * ldx + k);
        for (int i = 0; i < NR; i++) {
            // Decode streams every weight from memory once: prefetching 2 KB ahead per row measured
            // ~15% faster at batch 1 than leaving it to the hardware prefetcher alone. Later token
            // passes over rows already in L1 prefetch the next row block instead (pf, see matmul_dt):
            // 8.9 -> 10.7 GB/s at batch 8 on a 393 MB f32 weight, one thread.
            _mm_prefetch((const char *)(w + i * w_stride) + (size_t)k * k_elem + pf, _MM_HINT_T0);
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
                 const float *bias, float *y, int ldy, bool accumulate, ptrdiff_t pf) {
    switch (nt) {
        case 1:
            tile<DT, NR, 1>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate, pf);
            break;
        case 2:
            tile<DT, NR, 2>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate, pf);
            break;
        case 3:
            tile<DT, NR, 3>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate, pf);
            break;
        default:
            tile<DT, NR, 4>(x, ldx, w, w_stride, k_dim, bias, y, ldy, accumulate, pf);
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
                // The first pass streams these rows (prefetch ahead in them); the others find them in
                // L1 and prefetch the next row block, so memory stays busy during every pass.
                const ptrdiff_t pf = t == t0 ? 2048 : (ptrdiff_t)(k_rows * w_stride);
                tile_tokens<DT, k_rows>(nt, x + (size_t)t * ldx, ldx, base + r * w_stride, w_stride, k_dim,
                                        bias ? bias + r : nullptr, y + (size_t)t * ldy + r, ldy, accumulate,
                                        pf);
            }
        }
        // The last 1..5 rows as one block (attention's 16-row K blocks end in 4 rows here).
        if (r < r1) {
            for (int t = t0; t < t1; t += 4) {
                const int nt = t1 - t < 4 ? t1 - t : 4;
                const float *xt = x + (size_t)t * ldx;
                const uint8_t *wr = base + r * w_stride;
                const float *b = bias ? bias + r : nullptr;
                float *yt = y + (size_t)t * ldy + r;
                switch (r1 - r) {
                    case 1:
                        tile_tokens<DT, 1>(nt, xt, ldx, wr, w_stride, k_dim, b, yt, ldy, accumulate, 2048);
                        break;
                    case 2:
                        tile_tokens<DT, 2>(nt, xt, ldx, wr, w_stride, k_dim, b, yt, ldy, accumulate, 2048);
                        break;
                    case 3:
                        tile_tokens<DT, 3>(nt, xt, ldx, wr, w_stride, k_dim, b, yt, ldy, accumulate, 2048);
                        break;
                    case 4:
                        tile_tokens<DT, 4>(nt, xt, ldx, wr, w_stride, k_dim, b, yt, ldy, accumulate, 2048);
                        break;
                    default:
                        tile_tokens<DT, 5>(nt, xt, ldx, wr, w_stride, k_dim, b, yt, ldy, accumulate, 2048);
                        break;
                }
            }
        }
    }
}

// ---- Prefill GEMM: packed weight panels, outer-product micro-kernel (BLIS style) ----
// The dot-product tiles above need a horizontal reduction per output and stream each token's
// activations from L2 for every 6 weight rows. For many tokens it pays to pack k_panel_rows weight
// rows x k_panel_k columns once into a [k][row] panel (widened to f32 while packing, so the inner
// loop is the same for every weight dtype), keep it in L1, and sweep all the tokens past it:
// each k step loads 3 weight vectors, broadcasts 8 activations, and does 24 FMAs into a 48 x 8
// register tile of outputs that are stored as whole rows of y, with no reductions.
const int k_panel_rows = 48;
const int k_panel_k = 128;  // 48 x 128 f32 = 24 KB: the panel stays in the 48 KB L1
const int k_panel_tokens = 8;

// In-register 16x16 transpose: r[i] holds row i (16 k values); afterwards r[j] holds column j.
// Unpack within 128-bit lanes, then regroup 4x4 blocks across lanes (4 stages of 16 shuffles).
inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {  // u[4i + c], lane L: rows 4i..4i+3 at column 4L + c
        u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        const __m512 v_lo = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        const __m512 v_hi = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        const __m512 w_lo = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        const __m512 w_hi = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(v_lo, w_lo, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(v_lo, w_lo, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(v_hi, w_hi, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(v_hi, w_hi, 0xDD);
    }
}

// panel[k * 48 + i] = W[r + i, k0 + k] for i < n_rows (rows past n_rows are zero). Blocks of
// 16 rows x 16 k are widened and transposed in registers (a scalar transpose cost ~25-50% of the
// GEMM at 128 tokens).
template <int DT>
void pack_panel(const uint8_t *base, size_t w_stride, int r, int n_rows, int k0, int kc, float *panel) {
    const int k_vec = kc & ~15;
    for (int g = 0; g < k_panel_rows / 16; g++) {
        const int rows = n_rows - 16 * g < 16 ? n_rows - 16 * g : 16;  // may be <= 0
        for (int k = 0; k < k_vec; k += 16) {
            __m512 v[16];
            for (int i = 0; i < 16; i++)
                v[i] = i < rows ? load_w<DT>(base + (size_t)(r + 16 * g + i) * w_stride, k0 + k)
                                : _mm512_setzero_ps();
            transpose16(v);
            for (int j = 0; j < 16; j++)
                _mm512_store_ps(panel + (size_t)(k + j) * k_panel_rows + 16 * g, v[j]);
        }
        for (int i = 0; i < 16; i++) {
            const int row = 16 * g + i;
            for (int k = k_vec; k < kc; k++)
                panel[(size_t)k * k_panel_rows + row] =
                    i < rows
                        ? rs_load_f32(base + (size_t)(r + row) * w_stride, (rs_dtype)DT, (size_t)(k0 + k))
                        : 0.0f;
        }
    }
}

// y[t, 0..48) (+)= sum_k panel[k, :] * x[t, k] for NT tokens; `first` means this is the first k
// block: start from bias (+ y when accumulating) instead of the partial sums already in y.
template <int NT>
void panel_tile(const float *panel, int kc, const float *x, int ldx, float *y, int ldy, __mmask16 m0,
                __mmask16 m1, __mmask16 m2, const float *bias, bool first, bool accumulate) {
    __m512 acc[3][NT];
    for (int j = 0; j < NT; j++) {
        float *yt = y + (size_t)j * ldy;
        if (first && !accumulate) {
            acc[0][j] = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
            acc[1][j] = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
            acc[2][j] = bias ? _mm512_maskz_loadu_ps(m2, bias + 32) : _mm512_setzero_ps();
        } else {
            acc[0][j] = _mm512_maskz_loadu_ps(m0, yt);
            acc[1][j] = _mm512_maskz_loadu_ps(m1, yt + 16);
            acc[2][j] = _mm512_maskz_loadu_ps(m2, yt + 32);
            if (first && bias) {
                acc[0][j] = _mm512_add_ps(acc[0][j], _mm512_maskz_loadu_ps(m0, bias));
                acc[1][j] = _mm512_add_ps(acc[1][j], _mm512_maskz_loadu_ps(m1, bias + 16));
                acc[2][j] = _mm512_add_ps(acc[2][j], _mm512_maskz_loadu_ps(m2, bias + 32));
            }
        }
    }
    for (int k = 0; k < kc; k++) {
        const float *pk = panel + (size_t)k * k_panel_rows;
        const __m512 w0 = _mm512_load_ps(pk);
        const __m512 w1 = _mm512_load_ps(pk + 16);
        const __m512 w2 = _mm512_load_ps(pk + 32);
        for (int j = 0; j < NT; j++) {
            const __m512 xv = _mm512_set1_ps(x[(size_t)j * ldx + k]);
            acc[0][j] = _mm512_fmadd_ps(w0, xv, acc[0][j]);
            acc[1][j] = _mm512_fmadd_ps(w1, xv, acc[1][j]);
            acc[2][j] = _mm512_fmadd_ps(w2, xv, acc[2][j]);
        }
    }
    for (int j = 0; j < NT; j++) {
        float *yt = y + (size_t)j * ldy;
        _mm512_mask_storeu_ps(yt, m0, acc[0][j]);
        _mm512_mask_storeu_ps(yt + 16, m1, acc[1][j]);
        _mm512_mask_storeu_ps(yt + 32, m2, acc[2][j]);
    }
}

inline __mmask16 rows_mask(int left) {
    return left <= 0 ? (__mmask16)0 : left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

template <int DT>
void matmul_packed(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                   const float *bias, float *y, int ldy, bool accumulate) {
    // All panels of this call's rows for one k block, packed once and reused by every token group
    // (per thread, reused across calls): [n_panels][k_panel_k][48], in L2 for the row ranges the
    // forward pass hands out. The token group's activations (8 x 128) stay in L1 across the panels.
    static thread_local rs_f32_buffer packed;
    const int k_dim = (int)w.cols;
    const size_t w_stride = (size_t)k_dim * (DT == RS_DTYPE_F32 ? 4 : 2);
    const uint8_t *base = (const uint8_t *)w.data;
    const int n_panels = (r1 - r0 + k_panel_rows - 1) / k_panel_rows;
    const size_t panel_size = (size_t)k_panel_rows * k_panel_k;
    if (packed.size() < n_panels * panel_size) packed.resize(n_panels * panel_size);
    for (int k0 = 0; k0 < k_dim; k0 += k_panel_k) {
        const int kc = k_dim - k0 < k_panel_k ? k_dim - k0 : k_panel_k;
        for (int p = 0; p < n_panels; p++) {
            const int r = r0 + p * k_panel_rows;
            const int n_rows = r1 - r < k_panel_rows ? r1 - r : k_panel_rows;
            pack_panel<DT>(base, w_stride, r, n_rows, k0, kc, packed.data() + p * panel_size);
        }
        const bool first = k0 == 0;
        for (int t = 0; t < n_tokens; t += k_panel_tokens) {
            const int nt = n_tokens - t < k_panel_tokens ? n_tokens - t : k_panel_tokens;
            const float *xt = x + (size_t)t * ldx + k0;
            for (int p = 0; p < n_panels; p++) {
                const int r = r0 + p * k_panel_rows;
                const int n_rows = r1 - r < k_panel_rows ? r1 - r : k_panel_rows;
                const __mmask16 m0 = rows_mask(n_rows), m1 = rows_mask(n_rows - 16),
                                m2 = rows_mask(n_rows - 32);
                const float *b = bias ? bias + r : nullptr;
                const float *panel = packed.data() + p * panel_size;
                float *yt = y + (size_t)t * ldy + r;
                switch (nt) {
#define RS_PANEL_TILE(n)                                                              \
    case n:                                                                           \
        panel_tile<n>(panel, kc, xt, ldx, yt, ldy, m0, m1, m2, b, first, accumulate); \
        break;
                    RS_PANEL_TILE(1)
                    RS_PANEL_TILE(2)
                    RS_PANEL_TILE(3)
                    RS_PANEL_TILE(4)
                    RS_PANEL_TILE(5)
                    RS_PANEL_TILE(6)
                    RS_PANEL_TILE(7)
                    RS_PANEL_TILE(8)
#undef RS_PANEL_TILE
                }
            }
        }
    }
}

// From this many tokens on the packed GEMM wins (one thread, 768 x 2048 weights: 1.2-1.3x at 32
// tokens, 1.5-1.8x at 128-512); at 8 tokens the packing pass costs more than it saves (0.6-0.7x).
const int k_packed_min_tokens = 32;

template <int DT>
void matmul_select(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                   const float *bias, float *y, int ldy, bool accumulate) {
    if (n_tokens >= k_packed_min_tokens)
        matmul_packed<DT>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
    else
        matmul_dt<DT>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
}

void matmul_avx512(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                   const float *bias, float *y, int ldy, bool accumulate) {
    switch (w.dtype) {
        case RS_DTYPE_F32:
            matmul_select<RS_DTYPE_F32>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_F16:
            matmul_select<RS_DTYPE_F16>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_BF16:
            matmul_select<RS_DTYPE_BF16>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        default:  // block-quantized
            rs_matmul_quant_avx512(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
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

// exp(x) for 16 lanes: x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial
// (Cephes expf coefficients, ~1 ulp), times 2^n by vscalefps (which also gives 0 for very negative x
// and inf for large x, as std::exp does).
inline __m512 exp_ps(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // exp underflows to 0 well before this
    x = _mm512_min_ps(x, _mm512_set1_ps(89.0f));    // and overflows to inf after it
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

void softmax_avx512(float *x, int n, float scale) {
    const __m512 vscale = _mm512_set1_ps(scale);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vscale);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, v);
    }
    const __m512 max_b = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 e = exp_ps(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + i), vscale, max_b));
        vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
        _mm512_mask_storeu_ps(x + i, m, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
    }
}

void silu_mul_avx512(float *g, const float *u, int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 sig =
            _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), gv))));
        _mm512_mask_storeu_ps(g + i, m,
                              _mm512_mul_ps(_mm512_mul_ps(gv, sig), _mm512_maskz_loadu_ps(m, u + i)));
    }
}

}  // namespace

#pragma GCC pop_options

const rs_kernels_i rs_kernels_avx512 = {"avx512",           matmul_avx512,  attn_scores_avx512,
                                        attn_values_avx512, softmax_avx512, silu_mul_avx512};
