// Matmul on block-quantized weights with AVX-512: weights stay in their blocks and are dequantized in
// registers, 64 values at a time, to f32 (the bytes widened to 16 epi32 lanes, the nibbles or bit
// fields masked out, then q * scale + offset per block or sub-block); activations stay f32. (8-bit
// activations with integer dot products, llama.cpp's scheme, change SmolLM2-135M's greedy answers:
// its activations have outliers that a per-32 int8 scale rounds the rest of their block away with.)
//   - a few tokens (decode): each 64-value pair is dequantized once and used for every token;
//   - more tokens (prefill, large batches): 16-row panels are dequantized into a small f32 buffer per
//     chunk of 64 tokens and multiplied by the f32 GEMM of this kernel table, so each weight value is
//     dequantized once per 64 tokens.
// Compiled with a target pragma like kernels-avx512.cc.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

inline __m512 bcast_h(uint16_t h) {
    return _mm512_set1_ps(_cvtsh_ss(h));
}

// 16 bytes widened to 16 epi32 lanes.
inline __m512i widen_u8(const uint8_t *p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}

inline __m512 fma_i32(__m512i q, __m512 s, __m512 m) {
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(q), s, m);
}

// Values 64p .. 64p + 63 of a row as four f32 vectors of 16, dequantized in registers.
template <int DT>
inline void dequant_pair(const uint8_t *row, int p, __m512 *wf);

// Q4_0 / Q4_1 block: the low nibbles of qs are values 0..15, the high nibbles 16..31.
inline void dequant_nibble_block(const uint8_t *qs, __m512 d, __m512 m, __m512 *wf) {
    const __m512i v = widen_u8(qs);
    wf[0] = fma_i32(_mm512_and_si512(v, _mm512_set1_epi32(15)), d, m);
    wf[1] = fma_i32(_mm512_srli_epi32(v, 4), d, m);
}

template <>
inline void dequant_pair<RS_DTYPE_Q4_0>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q4_0 *b = (const rs_block_q4_0 *)row + 2 * p;
    for (int i = 0; i < 2; i++) {
        const __m512 d = bcast_h(b[i].d);
        dequant_nibble_block(b[i].qs, d, _mm512_mul_ps(d, _mm512_set1_ps(-8.0f)), wf + 2 * i);
    }
}

template <>
inline void dequant_pair<RS_DTYPE_Q4_1>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q4_1 *b = (const rs_block_q4_1 *)row + 2 * p;
    for (int i = 0; i < 2; i++) dequant_nibble_block(b[i].qs, bcast_h(b[i].d), bcast_h(b[i].m), wf + 2 * i);
}

// Q5_0 / Q5_1 block: Q4_0 / Q4_1's nibbles plus bit j of qh for value j.
inline void dequant_q5_block(const uint8_t *qs, const uint8_t *qh, __m512 d, __m512 m, __m512 *wf) {
    uint32_t h;
    std::memcpy(&h, qh, 4);
    const __m512i v = widen_u8(qs);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i hv = _mm512_set1_epi32((int)h);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i h0 = _mm512_and_si512(_mm512_srlv_epi32(hv, lanes), one);
    const __m512i h1 =
        _mm512_and_si512(_mm512_srlv_epi32(hv, _mm512_add_epi32(lanes, _mm512_set1_epi32(16))), one);
    wf[0] =
        fma_i32(_mm512_or_si512(_mm512_and_si512(v, _mm512_set1_epi32(15)), _mm512_slli_epi32(h0, 4)), d, m);
    wf[1] = fma_i32(_mm512_or_si512(_mm512_srli_epi32(v, 4), _mm512_slli_epi32(h1, 4)), d, m);
}

template <>
inline void dequant_pair<RS_DTYPE_Q5_0>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q5_0 *b = (const rs_block_q5_0 *)row + 2 * p;
    for (int i = 0; i < 2; i++) {
        const __m512 d = bcast_h(b[i].d);
        dequant_q5_block(b[i].qs, b[i].qh, d, _mm512_mul_ps(d, _mm512_set1_ps(-16.0f)), wf + 2 * i);
    }
}

template <>
inline void dequant_pair<RS_DTYPE_Q5_1>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q5_1 *b = (const rs_block_q5_1 *)row + 2 * p;
    for (int i = 0; i < 2; i++)
        dequant_q5_block(b[i].qs, b[i].qh, bcast_h(b[i].d), bcast_h(b[i].m), wf + 2 * i);
}

template <>
inline void dequant_pair<RS_DTYPE_Q8_0>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q8_0 *b = (const rs_block_q8_0 *)row + 2 * p;
    for (int i = 0; i < 2; i++) {
        const __m512 d = bcast_h(b[i].d);
        for (int h = 0; h < 2; h++) {
            const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b[i].qs + 16 * h)));
            wf[2 * i + h] = _mm512_mul_ps(_mm512_cvtepi32_ps(v), d);
        }
    }
}

// Q4_K / Q5_K: pair p is chunk c = p % 4 of super-block p / 4: sub-block 2c is the low nibbles of
// qs[32c .. 32c + 32], sub-block 2c + 1 the high nibbles (Q5_K: plus bit 2c / 2c + 1 of qh[l]).
template <typename B, bool Q5>
inline void dequant_kquant(const B *b, int c, const uint8_t *qh, __m512 *wf) {
    uint8_t sc0, m0, sc1, m1;
    rs_q4k_scale_min(2 * c, b->scales, &sc0, &m0);
    rs_q4k_scale_min(2 * c + 1, b->scales, &sc1, &m1);
    const float d = _cvtsh_ss(b->d), dmin = _cvtsh_ss(b->dmin);
    const __m512 s[2] = {_mm512_set1_ps(d * sc0), _mm512_set1_ps(d * sc1)};
    const __m512 m[2] = {_mm512_set1_ps(-dmin * m0), _mm512_set1_ps(-dmin * m1)};
    const __m512i low4 = _mm512_set1_epi32(15);
    for (int h = 0; h < 2; h++) {  // values l = 16h .. 16h + 15 of both sub-blocks
        const __m512i v = widen_u8(b->qs + 32 * c + 16 * h);
        __m512i lo = _mm512_and_si512(v, low4);
        __m512i hi = _mm512_srli_epi32(v, 4);
        if (Q5) {
            const __m512i vh = widen_u8(qh + 16 * h);
            const __m512i one = _mm512_set1_epi32(1);
            lo = _mm512_or_si512(
                lo,
                _mm512_slli_epi32(_mm512_and_si512(_mm512_srl_epi32(vh, _mm_cvtsi32_si128(2 * c)), one), 4));
            hi = _mm512_or_si512(
                hi, _mm512_slli_epi32(
                        _mm512_and_si512(_mm512_srl_epi32(vh, _mm_cvtsi32_si128(2 * c + 1)), one), 4));
        }
        wf[h] = fma_i32(lo, s[0], m[0]);
        wf[2 + h] = fma_i32(hi, s[1], m[1]);
    }
}

template <>
inline void dequant_pair<RS_DTYPE_Q4_K>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q4_k *b = (const rs_block_q4_k *)row + p / 4;
    dequant_kquant<rs_block_q4_k, false>(b, p % 4, nullptr, wf);
}

template <>
inline void dequant_pair<RS_DTYPE_Q5_K>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q5_k *b = (const rs_block_q5_k *)row + p / 4;
    dequant_kquant<rs_block_q5_k, true>(b, p % 4, b->qh, wf);
}

// Q6_K: pair p holds groups which = 2w, 2w + 1 (w = p % 2) of 128-value half n = (p / 2) % 2 of
// super-block p / 4. Group `which`, value l: low 4 bits from ql[64n + 32 (which & 1) + l] (high
// nibble when which >= 2), high 2 bits from qh[32n + l] >> 2 which; scale sc[8n + 2 which + l / 16].
template <>
inline void dequant_pair<RS_DTYPE_Q6_K>(const uint8_t *row, int p, __m512 *wf) {
    const rs_block_q6_k *b = (const rs_block_q6_k *)row + p / 4;
    const int n = (p / 2) % 2, w = p % 2;
    const float d = _cvtsh_ss(b->d);
    const __m128i nib_shift = _mm_cvtsi32_si128(4 * w);
    for (int g = 0; g < 2; g++) {
        const int which = 2 * w + g;
        const __m128i qh_shift = _mm_cvtsi32_si128(2 * which);
        for (int h = 0; h < 2; h++) {
            const __m512i ql = widen_u8(b->ql + 64 * n + 32 * g + 16 * h);
            const __m512i qh = widen_u8(b->qh + 32 * n + 16 * h);
            const __m512i lo = _mm512_and_si512(_mm512_srl_epi32(ql, nib_shift), _mm512_set1_epi32(15));
            const __m512i hi = _mm512_and_si512(_mm512_srl_epi32(qh, qh_shift), _mm512_set1_epi32(3));
            const __m512i q =
                _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32));
            const __m512 s = _mm512_set1_ps(d * (float)b->scales[8 * n + 2 * which + h]);
            wf[2 * g + h] = _mm512_mul_ps(_mm512_cvtepi32_ps(q), s);
        }
    }
}

// Dequantizes pairs [0, n_pairs) of a row into `out` (64 f32 per pair).
template <int DT>
inline void dequant_pairs(const uint8_t *row, int n_pairs, float *out) {
    for (int p = 0; p < n_pairs; p++) {
        __m512 wf[4];
        dequant_pair<DT>(row, p, wf);
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(out + 64 * p + 16 * i, wf[i]);
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
        __m512 wf[4];
        dequant_pair<DT>(row, p, wf);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < NT; j++)
                acc[j] =
                    _mm512_fmadd_ps(wf[i], _mm512_loadu_ps(x + (size_t)j * ldx + 64 * p + 16 * i), acc[j]);
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
