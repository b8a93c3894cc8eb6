// Matmul on block-quantized weights with AVX2: the scheme of kernels-quant-avx512.cc (weights
// dequantized in registers to f32, activations f32; dequantized 16-row panels and this table's f32
// GEMM for batches of more than 8 tokens) with 8-lane vectors.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

// 64 weight values of one pair of 32-value groups: value = ws[quarter] * q + wm[quarter].
struct wpair {
    __m256i q[2];  // groups 0 and 1 (32 values each): unsigned, signed for Q8_0
    __m128 ws;     // per 16-value quarter: the scale
    __m128 wm;     // per quarter: the offset
};

inline float h2f(uint16_t h) {
    return _cvtsh_ss(h);
}

inline __m128 two_scales(float s0, float s1) {
    return _mm_setr_ps(s0, s0, s1, s1);
}

inline void nibbles32(__m256i x, __m256i *lo, __m256i *hi) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    *lo = _mm256_and_si256(x, m);
    *hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m);
}

// A 16-byte nibble array as one group of 32 values [lo 16, hi 16].
inline __m256i nibbles16(const uint8_t *q) {
    const __m128i x = _mm_loadu_si128((const __m128i *)q);
    const __m128i m = _mm_set1_epi8(0x0F);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(x, m)),
                                   _mm_and_si128(_mm_srli_epi16(x, 4), m), 1);
}

template <int DT>
inline void decode_pair(const uint8_t *row, int p, wpair &o);

template <>
inline void decode_pair<RS_DTYPE_Q8_0>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q8_0 *b = (const rs_block_q8_0 *)row + 2 * p;
    o.q[0] = _mm256_loadu_si256((const __m256i *)b[0].qs);
    o.q[1] = _mm256_loadu_si256((const __m256i *)b[1].qs);
    o.ws = two_scales(h2f(b[0].d), h2f(b[1].d));
    o.wm = _mm_setzero_ps();
}

template <>
inline void decode_pair<RS_DTYPE_Q4_0>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q4_0 *b = (const rs_block_q4_0 *)row + 2 * p;
    o.q[0] = nibbles16(b[0].qs);
    o.q[1] = nibbles16(b[1].qs);
    const float d0 = h2f(b[0].d), d1 = h2f(b[1].d);
    o.ws = two_scales(d0, d1);
    o.wm = _mm_setr_ps(-8.0f * d0, -8.0f * d0, -8.0f * d1, -8.0f * d1);
}

template <>
inline void decode_pair<RS_DTYPE_Q4_1>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q4_1 *b = (const rs_block_q4_1 *)row + 2 * p;
    o.q[0] = nibbles16(b[0].qs);
    o.q[1] = nibbles16(b[1].qs);
    o.ws = two_scales(h2f(b[0].d), h2f(b[1].d));
    const float m0 = h2f(b[0].m), m1 = h2f(b[1].m);
    o.wm = _mm_setr_ps(m0, m0, m1, m1);
}

// Q5_0 / Q5_1: a 16-byte nibble group plus bit j of qh for value j, as 32 values [lo 16, hi 16].
inline __m256i q5_group(const uint8_t *qs, const uint8_t *qh) {
    uint32_t h;
    std::memcpy(&h, qh, 4);
    // Spread the 32 bits over 32 bytes: byte j gets bit j.
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2,
                                          2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), shuf);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
    return _mm256_or_si256(nibbles16(qs), _mm256_and_si256(set, _mm256_set1_epi8(16)));
}

template <>
inline void decode_pair<RS_DTYPE_Q5_0>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q5_0 *b = (const rs_block_q5_0 *)row + 2 * p;
    o.q[0] = q5_group(b[0].qs, b[0].qh);
    o.q[1] = q5_group(b[1].qs, b[1].qh);
    const float d0 = h2f(b[0].d), d1 = h2f(b[1].d);
    o.ws = two_scales(d0, d1);
    o.wm = _mm_setr_ps(-16.0f * d0, -16.0f * d0, -16.0f * d1, -16.0f * d1);
}

template <>
inline void decode_pair<RS_DTYPE_Q5_1>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q5_1 *b = (const rs_block_q5_1 *)row + 2 * p;
    o.q[0] = q5_group(b[0].qs, b[0].qh);
    o.q[1] = q5_group(b[1].qs, b[1].qh);
    o.ws = two_scales(h2f(b[0].d), h2f(b[1].d));
    const float m0 = h2f(b[0].m), m1 = h2f(b[1].m);
    o.wm = _mm_setr_ps(m0, m0, m1, m1);
}

template <typename B>
inline void kquant_scales_pair(const B *b, int c, wpair &o) {
    uint8_t sc0, m0, sc1, m1;
    rs_q4k_scale_min(2 * c, b->scales, &sc0, &m0);
    rs_q4k_scale_min(2 * c + 1, b->scales, &sc1, &m1);
    const float d = h2f(b->d), dmin = h2f(b->dmin);
    o.ws = two_scales(d * sc0, d * sc1);
    o.wm = _mm_setr_ps(-dmin * m0, -dmin * m0, -dmin * m1, -dmin * m1);
}

template <>
inline void decode_pair<RS_DTYPE_Q4_K>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q4_k *b = (const rs_block_q4_k *)row + p / 4;
    const int c = p % 4;
    nibbles32(_mm256_loadu_si256((const __m256i *)(b->qs + 32 * c)), &o.q[0], &o.q[1]);
    kquant_scales_pair(b, c, o);
}

template <>
inline void decode_pair<RS_DTYPE_Q5_K>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q5_k *b = (const rs_block_q5_k *)row + p / 4;
    const int c = p % 4;
    nibbles32(_mm256_loadu_si256((const __m256i *)(b->qs + 32 * c)), &o.q[0], &o.q[1]);
    const __m256i qh = _mm256_loadu_si256((const __m256i *)b->qh);
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i h0 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c)), one);
    const __m256i h1 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c + 1)), one);
    o.q[0] = _mm256_or_si256(o.q[0], _mm256_slli_epi16(h0, 4));
    o.q[1] = _mm256_or_si256(o.q[1], _mm256_slli_epi16(h1, 4));
    kquant_scales_pair(b, c, o);
}

template <>
inline void decode_pair<RS_DTYPE_Q6_K>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q6_k *b = (const rs_block_q6_k *)row + p / 4;
    const int n = (p / 2) % 2, w = p % 2;
    const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * n));
    const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * n + 32));
    const __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * n));
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
    const __m128i sh = _mm_cvtsi32_si128(4 * w);
    const __m256i lo0 = _mm256_and_si256(_mm256_srl_epi16(ql0, sh), m4);
    const __m256i lo1 = _mm256_and_si256(_mm256_srl_epi16(ql1, sh), m4);
    const __m256i hi0 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(4 * w)), m2);
    const __m256i hi1 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(4 * w + 2)), m2);
    o.q[0] = _mm256_or_si256(lo0, _mm256_slli_epi16(hi0, 4));
    o.q[1] = _mm256_or_si256(lo1, _mm256_slli_epi16(hi1, 4));
    int32_t sc4;
    std::memcpy(&sc4, b->scales + 8 * n + 4 * w, 4);
    const __m128 s =
        _mm_mul_ps(_mm_cvtepi32_ps(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(sc4))), _mm_set1_ps(h2f(b->d)));
    o.ws = s;
    o.wm = _mm_mul_ps(s, _mm_set1_ps(-32.0f));
}

// Eighth e (values 8e .. 8e + 7) of a decoded pair as f32.
template <int DT>
inline __m256 dequant_eighth(const wpair &w, const float *s, const float *m, int e) {
    const __m128i h =
        e % 4 < 2 ? _mm256_castsi256_si128(w.q[e / 4]) : _mm256_extracti128_si256(w.q[e / 4], 1);
    const __m128i b8 = e % 2 == 0 ? h : _mm_srli_si128(h, 8);
    const __m256i q32 = DT == RS_DTYPE_Q8_0 ? _mm256_cvtepi8_epi32(b8) : _mm256_cvtepu8_epi32(b8);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(q32), _mm256_set1_ps(s[e / 2]), _mm256_set1_ps(m[e / 2]));
}

template <int DT>
inline void dequant_pairs(const uint8_t *row, int n_pairs, float *out) {
    for (int p = 0; p < n_pairs; p++) {
        wpair w;
        decode_pair<DT>(row, p, w);
        alignas(16) float s[4], m[4];
        _mm_store_ps(s, w.ws);
        _mm_store_ps(m, w.wm);
        for (int e = 0; e < 8; e++) _mm256_storeu_ps(out + 64 * p + 8 * e, dequant_eighth<DT>(w, s, m, e));
    }
}

template <int DT, int NT>
inline void row_tokens(const uint8_t *row, int n_pairs, const float *x, int ldx, float *out) {
    __m256 acc[NT];
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    const size_t pair_bytes = rs_dtype_block_bytes((rs_dtype)DT) * 64 / rs_dtype_block_elems((rs_dtype)DT);
    for (int p = 0; p < n_pairs; p++) {
        _mm_prefetch((const char *)row + (size_t)p * pair_bytes + 1024, _MM_HINT_T0);
        wpair w;
        decode_pair<DT>(row, p, w);
        alignas(16) float s[4], m[4];
        _mm_store_ps(s, w.ws);
        _mm_store_ps(m, w.wm);
        for (int e = 0; e < 8; e++) {
            const __m256 wf = dequant_eighth<DT>(w, s, m, e);
            for (int j = 0; j < NT; j++)
                acc[j] = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x + (size_t)j * ldx + 64 * p + 8 * e), acc[j]);
        }
    }
    for (int j = 0; j < NT; j++) {
        __m128 v = _mm_add_ps(_mm256_castps256_ps128(acc[j]), _mm256_extractf128_ps(acc[j], 1));
        v = _mm_add_ps(v, _mm_movehl_ps(v, v));
        out[j] = _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
    }
}

inline float tail_dot(rs_dtype t, const uint8_t *row, int k, const float *x) {
    float v[32];
    rs_dequantize_row(t, row + rs_row_bytes(t, k - 32), v, 32);
    float sum = 0.0f;
    for (int i = 0; i < 32; i++) sum += v[i] * x[k - 32 + i];
    return sum;
}

template <int DT, int NT>
void rows_tokens(const float *x, int ldx, const rs_weight &w, int r0, int r1, const float *bias, float *y,
                 int ldy, bool accumulate) {
    const size_t row_bytes = w.row_bytes();
    const int k = (int)w.cols;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w.data + (size_t)r * row_bytes;
        float out[NT];
        row_tokens<DT, NT>(row, k / 64, x, ldx, out);
        for (int j = 0; j < NT; j++) {
            if (k % 64) out[j] += tail_dot(w.dtype, row, k, x + (size_t)j * ldx);
            if (bias) out[j] += bias[r];
            float *o = y + (size_t)j * ldy + r;
            *o = accumulate ? *o + out[j] : out[j];
        }
    }
}

const int k_fused_tokens = 4;
const int k_panel_rows = 16;
const int k_panel_tokens = 64;

template <int DT>
void matmul_dt(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1, const float *bias,
               float *y, int ldy, bool accumulate) {
    if (n_tokens <= 2 * k_fused_tokens) {
        int t = 0;
        for (; t + k_fused_tokens <= n_tokens; t += k_fused_tokens)
            rows_tokens<DT, k_fused_tokens>(x + (size_t)t * ldx, ldx, w, r0, r1, bias, y + (size_t)t * ldy,
                                            ldy, accumulate);
        for (; t < n_tokens; t++)
            rows_tokens<DT, 1>(x + (size_t)t * ldx, ldx, w, r0, r1, bias, y + (size_t)t * ldy, ldy,
                               accumulate);
        return;
    }
    const int k = (int)w.cols;
    thread_local rs_f32_buffer panel;  // [k_panel_rows, K] dequantized rows
    panel.resize((size_t)k_panel_rows * k);
    for (int t0 = 0; t0 < n_tokens; t0 += k_panel_tokens) {
        const int nt = n_tokens - t0 < k_panel_tokens ? n_tokens - t0 : k_panel_tokens;
        for (int rb = r0; rb < r1; rb += k_panel_rows) {
            const int nr = r1 - rb < k_panel_rows ? r1 - rb : k_panel_rows;
            for (int i = 0; i < nr; i++) {
                const uint8_t *row = (const uint8_t *)w.data + (size_t)(rb + i) * w.row_bytes();
                float *out = panel.data() + (size_t)i * k;
                dequant_pairs<DT>(row, k / 64, out);
                if (k % 64) rs_dequantize_row(w.dtype, row + rs_row_bytes(w.dtype, k - 32), out + k - 32, 32);
            }
            rs_weight pw;
            pw.data = panel.data();
            pw.dtype = RS_DTYPE_F32;
            pw.rows = nr;
            pw.cols = k;
            rs_kernels_avx2.matmul(x + (size_t)t0 * ldx, nt, ldx, pw, 0, nr, bias ? bias + rb : nullptr,
                                   y + (size_t)t0 * ldy + rb, ldy, accumulate);
        }
    }
}

}  // namespace

void rs_matmul_quant_avx2(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                          const float *bias, float *y, int ldy, bool accumulate) {
    switch (w.dtype) {
        case RS_DTYPE_Q8_0:
            matmul_dt<RS_DTYPE_Q8_0>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_Q4_0:
            matmul_dt<RS_DTYPE_Q4_0>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_Q4_1:
            matmul_dt<RS_DTYPE_Q4_1>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_Q5_0:
            matmul_dt<RS_DTYPE_Q5_0>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_Q5_1:
            matmul_dt<RS_DTYPE_Q5_1>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_Q4_K:
            matmul_dt<RS_DTYPE_Q4_K>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_Q5_K:
            matmul_dt<RS_DTYPE_Q5_K>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        case RS_DTYPE_Q6_K:
            matmul_dt<RS_DTYPE_Q6_K>(x, n_tokens, ldx, w, r0, r1, bias, y, ldy, accumulate);
            break;
        default:
            RS_CHECK(false,
                     std::string("matmul: ") + rs_dtype_name(w.dtype) + " weights are not block-quantized");
    }
}

#pragma GCC pop_options
