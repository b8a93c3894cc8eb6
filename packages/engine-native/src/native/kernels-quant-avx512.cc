// Matmul on block-quantized weights with AVX-512: weights stay in their blocks and are dequantized in
// registers, 64 values at a time, to f32; activations stay f32. (8-bit activations with integer dot
// products, llama.cpp's scheme, change SmolLM2-135M's greedy answers: its activations have outliers
// that a per-32 int8 scale rounds the rest of their block away with.) Every type is brought to one
// form per 64 values: 64 small integers q and, per 16-value quarter i, a scale s_i and an offset m_i,
// so value = s_i * q + m_i (Q4_1: d, m; Q4_0: d, -8d; Q8_0: d, 0 with signed q; Q4_K/Q5_K: d * sc,
// -dmin * m; Q6_K: d * sc, -32 d sc).
//   - a few tokens (decode): each 64-value pair is dequantized once and used for every token;
//   - more tokens (prefill, large batches): 16-row panels are dequantized into a small f32 buffer per
//     chunk of 64 tokens and multiplied by the f32 GEMM of this kernel table, so each weight value is
//     dequantized once per 64 tokens.
// Compiled with a target pragma like kernels-avx512.cc.
#include <immintrin.h>

#include <cstddef>

#include "kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// 64 weight values of one pair of 32-value groups, in the form above.
struct wpair {
    __m512i q;  // 64 values in element order: unsigned, signed for Q8_0
    __m128 ws;  // per quarter: the scale
    __m128 wm;  // per quarter: the offset
};

inline float h2f(uint16_t h) {
    return _cvtsh_ss(h);
}

inline __m128 two_scales(float s0, float s1) {
    return _mm_setr_ps(s0, s0, s1, s1);
}

// Low and high nibbles of 32 bytes as 64 values: [low 32, high 32].
inline __m512i nibbles32(__m256i x) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_and_si256(x, m);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Two 16-byte nibble arrays (blocks of 32) as 64 values: [lo0, hi0, lo1, hi1].
inline __m512i nibbles16x2(const uint8_t *q0, const uint8_t *q1) {
    const __m256i x = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q0)),
                                              _mm_loadu_si128((const __m128i *)q1), 1);
    const __m512i z = nibbles32(x);  // [lo0, lo1, hi0, hi1]
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}

template <int DT>
inline void decode_pair(const uint8_t *row, int p, wpair &o);

template <>
inline void decode_pair<RS_DTYPE_Q8_0>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q8_0 *b = (const rs_block_q8_0 *)row + 2 * p;
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)b[0].qs)),
                                         _mm256_loadu_si256((const __m256i *)b[1].qs), 1);
    o.q = z;
    o.ws = two_scales(h2f(b[0].d), h2f(b[1].d));
    o.wm = _mm_setzero_ps();
}

template <>
inline void decode_pair<RS_DTYPE_Q4_0>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q4_0 *b = (const rs_block_q4_0 *)row + 2 * p;
    o.q = nibbles16x2(b[0].qs, b[1].qs);
    const float d0 = h2f(b[0].d), d1 = h2f(b[1].d);
    o.ws = two_scales(d0, d1);
    o.wm = _mm_setr_ps(-8.0f * d0, -8.0f * d0, -8.0f * d1, -8.0f * d1);
}

template <>
inline void decode_pair<RS_DTYPE_Q4_1>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q4_1 *b = (const rs_block_q4_1 *)row + 2 * p;
    o.q = nibbles16x2(b[0].qs, b[1].qs);
    o.ws = two_scales(h2f(b[0].d), h2f(b[1].d));
    const float m0 = h2f(b[0].m), m1 = h2f(b[1].m);
    o.wm = _mm_setr_ps(m0, m0, m1, m1);
}

// Q4_K / Q5_K: pair p is chunk p % 4 (sub-blocks 2c, 2c + 1) of super-block p / 4.
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
    o.q = nibbles32(_mm256_loadu_si256((const __m256i *)(b->qs + 32 * c)));
    kquant_scales_pair(b, c, o);
}

template <>
inline void decode_pair<RS_DTYPE_Q5_K>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q5_k *b = (const rs_block_q5_k *)row + p / 4;
    const int c = p % 4;
    const __m256i qh = _mm256_loadu_si256((const __m256i *)b->qh);
    const __m256i one = _mm256_set1_epi8(1);
    // Bit 2c of qh[l] is the fifth bit of the low-nibble value l, bit 2c + 1 of the high one.
    const __m256i h0 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c)), one);
    const __m256i h1 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c + 1)), one);
    const __m512i hb = _mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1);
    o.q = _mm512_or_si512(nibbles32(_mm256_loadu_si256((const __m256i *)(b->qs + 32 * c))),
                          _mm512_slli_epi16(hb, 4));
    kquant_scales_pair(b, c, o);
}

// Q6_K: pair p is groups 2w, 2w + 1 (w = p % 2) of 128-value half n = (p / 2) % 2 of super-block p / 4.
template <>
inline void decode_pair<RS_DTYPE_Q6_K>(const uint8_t *row, int p, wpair &o) {
    const rs_block_q6_k *b = (const rs_block_q6_k *)row + p / 4;
    const int n = (p / 2) % 2, w = p % 2;
    const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * n));
    const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * n + 32));
    const __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * n));
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
    __m256i lo0, lo1;  // low 4 bits of group 2w and 2w + 1
    if (w == 0) {
        lo0 = _mm256_and_si256(ql0, m4);
        lo1 = _mm256_and_si256(ql1, m4);
    } else {
        lo0 = _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4);
        lo1 = _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4);
    }
    const __m256i hi0 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(4 * w)), m2);
    const __m256i hi1 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(4 * w + 2)), m2);
    const __m256i g0 = _mm256_or_si256(lo0, _mm256_slli_epi16(hi0, 4));
    const __m256i g1 = _mm256_or_si256(lo1, _mm256_slli_epi16(hi1, 4));
    o.q = _mm512_inserti64x4(_mm512_castsi256_si512(g0), g1, 1);
    // The four 16-value scales of these groups are scales[8n + 4w .. + 4].
    int32_t sc4;
    std::memcpy(&sc4, b->scales + 8 * n + 4 * w, 4);
    const __m128 s =
        _mm_mul_ps(_mm_cvtepi32_ps(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(sc4))), _mm_set1_ps(h2f(b->d)));
    o.ws = s;
    o.wm = _mm_mul_ps(s, _mm_set1_ps(-32.0f));
}

// Quarter i (values 16i .. 16i + 15) of a decoded pair as f32: s_i * q + m_i.
template <int DT>
inline __m512 dequant_quarter(const wpair &w, const __m512 *s, const __m512 *m, int i) {
    const __m128i qi = _mm512_extracti32x4_epi32(w.q, i);
    const __m512i q32 = DT == RS_DTYPE_Q8_0 ? _mm512_cvtepi8_epi32(qi) : _mm512_cvtepu8_epi32(qi);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(q32), s[i], m[i]);
}

inline void spread(__m128 v, __m512 *out) {
    out[0] = _mm512_broadcastss_ps(v);
    out[1] = _mm512_broadcastss_ps(_mm_shuffle_ps(v, v, 0x55));
    out[2] = _mm512_broadcastss_ps(_mm_shuffle_ps(v, v, 0xaa));
    out[3] = _mm512_broadcastss_ps(_mm_shuffle_ps(v, v, 0xff));
}

// Dequantizes pairs [0, n_pairs) of a row into `out` (64 f32 per pair).
template <int DT>
inline void dequant_pairs(const uint8_t *row, int n_pairs, float *out) {
    for (int p = 0; p < n_pairs; p++) {
        wpair w;
        decode_pair<DT>(row, p, w);
        __m512 s[4], m[4];
        spread(w.ws, s);
        spread(w.wm, m);
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(out + 64 * p + 16 * i, dequant_quarter<DT>(w, s, m, i));
    }
}

// out[j] = dot(row, x[j]) for NT tokens: each pair dequantized once, then 4 FMAs per token.
template <int DT, int NT>
inline void row_tokens(const uint8_t *row, int n_pairs, const float *x, int ldx, float *out) {
    __m512 acc[NT];
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    const size_t pair_bytes = rs_dtype_block_bytes((rs_dtype)DT) * 64 / rs_dtype_block_elems((rs_dtype)DT);
    for (int p = 0; p < n_pairs; p++) {
        // Decode streams each weight byte from memory once: prefetching ahead in the row keeps two
        // threads near the memory bandwidth.
        _mm_prefetch((const char *)row + (size_t)p * pair_bytes + 1024, _MM_HINT_T0);
        wpair w;
        decode_pair<DT>(row, p, w);
        __m512 s[4], m[4];
        spread(w.ws, s);
        spread(w.wm, m);
        for (int i = 0; i < 4; i++) {
            const __m512 wf = dequant_quarter<DT>(w, s, m, i);
            for (int j = 0; j < NT; j++)
                acc[j] = _mm512_fmadd_ps(wf, _mm512_loadu_ps(x + (size_t)j * ldx + 64 * p + 16 * i), acc[j]);
        }
    }
    for (int j = 0; j < NT; j++) out[j] = _mm512_reduce_add_ps(acc[j]);
}

// The odd last 32-value block of a Q8_0/Q4_0/Q4_1 row of 32 * odd values, in plain code.
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

// Tokens per fused pass; batches above twice this go through dequantized panels.
const int k_fused_tokens = 4;
// Rows per dequantized panel, and tokens per panel (each panel is reused for this many tokens).
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
            rs_kernels_avx512.matmul(x + (size_t)t0 * ldx, nt, ldx, pw, 0, nr, bias ? bias + rb : nullptr,
                                     y + (size_t)t0 * ldy + rb, ldy, accumulate);
        }
    }
}

}  // namespace

void rs_matmul_quant_avx512(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
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
