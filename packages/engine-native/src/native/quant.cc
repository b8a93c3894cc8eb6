#include "quant.h"

#include <algorithm>
#include <cmath>

// --- dequantization -------------------------------------------------------------------------------

static void dequant_q8_0(const rs_block_q8_0 *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    for (int i = 0; i < 32; i++) y[i] = d * (float)b->qs[i];
}

static void dequant_q4_0(const rs_block_q4_0 *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    for (int i = 0; i < 16; i++) {
        y[i] = d * (float)((b->qs[i] & 0xF) - 8);
        y[i + 16] = d * (float)((b->qs[i] >> 4) - 8);
    }
}

static void dequant_q4_1(const rs_block_q4_1 *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    const float m = rs_f16_to_f32(b->m);
    for (int i = 0; i < 16; i++) {
        y[i] = d * (float)(b->qs[i] & 0xF) + m;
        y[i + 16] = d * (float)(b->qs[i] >> 4) + m;
    }
}

static inline uint32_t q5_high_bits(const uint8_t *qh) {
    uint32_t h;
    std::memcpy(&h, qh, 4);
    return h;
}

static void dequant_q5_0(const rs_block_q5_0 *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    const uint32_t h = q5_high_bits(b->qh);
    for (int i = 0; i < 16; i++) {
        const int lo = (b->qs[i] & 0xF) | (int)(((h >> i) & 1) << 4);
        const int hi = (b->qs[i] >> 4) | (int)(((h >> (i + 16)) & 1) << 4);
        y[i] = d * (float)(lo - 16);
        y[i + 16] = d * (float)(hi - 16);
    }
}

static void dequant_q5_1(const rs_block_q5_1 *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    const float m = rs_f16_to_f32(b->m);
    const uint32_t h = q5_high_bits(b->qh);
    for (int i = 0; i < 16; i++) {
        y[i] = d * (float)((b->qs[i] & 0xF) | (((h >> i) & 1) << 4)) + m;
        y[i + 16] = d * (float)((b->qs[i] >> 4) | (((h >> (i + 16)) & 1) << 4)) + m;
    }
}

static void dequant_q4_k(const rs_block_q4_k *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    const float dmin = rs_f16_to_f32(b->dmin);
    for (int c = 0; c < 4; c++) {
        uint8_t sc0, m0, sc1, m1;
        rs_q4k_scale_min(2 * c, b->scales, &sc0, &m0);
        rs_q4k_scale_min(2 * c + 1, b->scales, &sc1, &m1);
        const uint8_t *q = b->qs + 32 * c;
        for (int l = 0; l < 32; l++) {
            y[64 * c + l] = d * sc0 * (float)(q[l] & 0xF) - dmin * m0;
            y[64 * c + 32 + l] = d * sc1 * (float)(q[l] >> 4) - dmin * m1;
        }
    }
}

static void dequant_q5_k(const rs_block_q5_k *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    const float dmin = rs_f16_to_f32(b->dmin);
    for (int c = 0; c < 4; c++) {
        uint8_t sc0, m0, sc1, m1;
        rs_q4k_scale_min(2 * c, b->scales, &sc0, &m0);
        rs_q4k_scale_min(2 * c + 1, b->scales, &sc1, &m1);
        const uint8_t *q = b->qs + 32 * c;
        for (int l = 0; l < 32; l++) {
            const int lo = (q[l] & 0xF) | (((b->qh[l] >> (2 * c)) & 1) << 4);
            const int hi = (q[l] >> 4) | (((b->qh[l] >> (2 * c + 1)) & 1) << 4);
            y[64 * c + l] = d * sc0 * (float)lo - dmin * m0;
            y[64 * c + 32 + l] = d * sc1 * (float)hi - dmin * m1;
        }
    }
}

// Value of element `32 * which + l` (which 0..3, l 0..31) of 128-element half n of a Q6_K block, 0..63.
static inline int q6k_value(const rs_block_q6_k *b, int n, int which, int l) {
    const uint8_t ql = b->ql[64 * n + 32 * (which & 1) + l];
    const int lo = which < 2 ? (ql & 0xF) : (ql >> 4);
    const int hi = (b->qh[32 * n + l] >> (2 * which)) & 3;
    return lo | (hi << 4);
}

static void dequant_q6_k(const rs_block_q6_k *b, float *y) {
    const float d = rs_f16_to_f32(b->d);
    for (int n = 0; n < 2; n++)
        for (int which = 0; which < 4; which++)
            for (int l = 0; l < 32; l++) {
                const int sc = b->scales[8 * n + 2 * which + l / 16];
                y[128 * n + 32 * which + l] = d * (float)sc * (float)(q6k_value(b, n, which, l) - 32);
            }
}

void rs_dequantize_row(rs_dtype t, const void *row, float *out, int64_t k) {
    if (!rs_dtype_is_quant(t)) {
        for (int64_t i = 0; i < k; i++) out[i] = rs_load_f32(row, t, (size_t)i);
        return;
    }
    const int64_t be = rs_dtype_block_elems(t);
    const uint8_t *p = (const uint8_t *)row;
    const size_t bb = rs_dtype_block_bytes(t);
    for (int64_t b = 0; b < k / be; b++, p += bb) {
        float *y = out + b * be;
        switch (t) {
            case RS_DTYPE_Q8_0:
                dequant_q8_0((const rs_block_q8_0 *)p, y);
                break;
            case RS_DTYPE_Q4_0:
                dequant_q4_0((const rs_block_q4_0 *)p, y);
                break;
            case RS_DTYPE_Q4_1:
                dequant_q4_1((const rs_block_q4_1 *)p, y);
                break;
            case RS_DTYPE_Q5_0:
                dequant_q5_0((const rs_block_q5_0 *)p, y);
                break;
            case RS_DTYPE_Q5_1:
                dequant_q5_1((const rs_block_q5_1 *)p, y);
                break;
            case RS_DTYPE_Q4_K:
                dequant_q4_k((const rs_block_q4_k *)p, y);
                break;
            case RS_DTYPE_Q5_K:
                dequant_q5_k((const rs_block_q5_k *)p, y);
                break;
            default:
                dequant_q6_k((const rs_block_q6_k *)p, y);
                break;
        }
    }
}

// --- quantization ---------------------------------------------------------------------------------
// Round-to-nearest with min/max scales per block: simple and deterministic. (llama.cpp searches
// scales that minimise the weighted error; this is for quantizing an HF checkpoint at load time.)

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

// The smallest f16 not below v (v >= 0).
static uint16_t f16_at_least(float v) {
    uint16_t h = rs_f32_to_f16(v);
    if (rs_f16_to_f32(h) < v) h++;
    return h;
}

static void quant_q8_0(const float *x, rs_block_q8_0 *b) {
    float amax = 0.0f;
    for (int i = 0; i < 32; i++) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    b->d = rs_f32_to_f16(d);
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < 32; i++) b->qs[i] = (int8_t)clampi((int)std::nearbyint(x[i] * inv), -127, 127);
}

static void quant_q4_0(const float *x, rs_block_q4_0 *b) {
    // The value of largest magnitude maps to -8 (as llama.cpp does), so its sign keeps full range.
    float amax = 0.0f, vmax = 0.0f;
    for (int i = 0; i < 32; i++)
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            vmax = x[i];
        }
    const float d = vmax / -8.0f;
    b->d = rs_f32_to_f16(d);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < 16; i++) {
        const int lo = clampi((int)std::nearbyint(x[i] * inv) + 8, 0, 15);
        const int hi = clampi((int)std::nearbyint(x[i + 16] * inv) + 8, 0, 15);
        b->qs[i] = (uint8_t)(lo | (hi << 4));
    }
}

static void quant_q4_1(const float *x, rs_block_q4_1 *b) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < 32; i++) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    const float d = (hi - lo) / 15.0f;
    b->d = rs_f32_to_f16(d);
    b->m = rs_f32_to_f16(lo);
    const float m = rs_f16_to_f32(b->m);
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < 16; i++) {
        const int q0 = clampi((int)std::nearbyint((x[i] - m) * inv), 0, 15);
        const int q1 = clampi((int)std::nearbyint((x[i + 16] - m) * inv), 0, 15);
        b->qs[i] = (uint8_t)(q0 | (q1 << 4));
    }
}

// Q5_0: like Q4_0 with 32 levels (the largest magnitude maps to -16).
static void quant_q5_0(const float *x, rs_block_q5_0 *b) {
    float amax = 0.0f, vmax = 0.0f;
    for (int i = 0; i < 32; i++)
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            vmax = x[i];
        }
    const float d = vmax / -16.0f;
    b->d = rs_f32_to_f16(d);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    uint32_t h = 0;
    for (int i = 0; i < 16; i++) {
        const int lo = clampi((int)std::nearbyint(x[i] * inv) + 16, 0, 31);
        const int hi = clampi((int)std::nearbyint(x[i + 16] * inv) + 16, 0, 31);
        b->qs[i] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
        h |= (uint32_t)(lo >> 4) << i | (uint32_t)(hi >> 4) << (i + 16);
    }
    std::memcpy(b->qh, &h, 4);
}

static void quant_q5_1(const float *x, rs_block_q5_1 *b) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < 32; i++) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    const float d = (hi - lo) / 31.0f;
    b->d = rs_f32_to_f16(d);
    b->m = rs_f32_to_f16(lo);
    const float m = rs_f16_to_f32(b->m);
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    uint32_t h = 0;
    for (int i = 0; i < 16; i++) {
        const int q0 = clampi((int)std::nearbyint((x[i] - m) * inv), 0, 31);
        const int q1 = clampi((int)std::nearbyint((x[i + 16] - m) * inv), 0, 31);
        b->qs[i] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
        h |= (uint32_t)(q0 >> 4) << i | (uint32_t)(q1 >> 4) << (i + 16);
    }
    std::memcpy(b->qh, &h, 4);
}

// Scales and mins of the 8 sub-blocks of a Q4_K/Q5_K super-block for `levels` (15 or 31) steps:
// 6-bit integers relative to the super-block's d and dmin, packed into `scales`.
static void kquant_scales(const float *x, int levels, uint16_t *d_out, uint16_t *dmin_out, uint8_t *scales) {
    int sc[8], m[8];
    float hi[8], mins[8], max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        float lo = 0.0f;
        hi[j] = x[32 * j];
        for (int i = 0; i < 32; i++) {
            lo = std::min(lo, x[32 * j + i]);
            hi[j] = std::max(hi[j], x[32 * j + i]);
        }
        mins[j] = -lo;
        max_min = std::max(max_min, mins[j]);
    }
    // Mins and scales round up to their 6-bit steps, so the decoded range of every sub-block covers
    // its values: rounding a scale down would clamp the largest values of the sub-block.
    *dmin_out = f16_at_least(max_min / 63.0f);
    const float dminq = rs_f16_to_f32(*dmin_out);
    float need[8], max_need = 0.0f;
    for (int j = 0; j < 8; j++) {
        m[j] = dminq > 0.0f ? clampi((int)std::ceil(mins[j] / dminq - 1e-4f), 0, 63) : 0;
        need[j] = (hi[j] + dminq * (float)m[j]) / (float)levels;
        max_need = std::max(max_need, need[j]);
    }
    *d_out = f16_at_least(max_need / 63.0f);
    const float dq = rs_f16_to_f32(*d_out);
    std::memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        sc[j] = dq > 0.0f ? clampi((int)std::ceil(need[j] / dq - 1e-4f), 0, 63) : 0;
        if (j < 4) {
            scales[j] |= (uint8_t)sc[j];
            scales[j + 4] |= (uint8_t)m[j];
        } else {
            scales[j + 4] = (uint8_t)((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
            scales[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            scales[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

// The integer level of x in sub-block j (0..levels) given the decoded scale and min of that sub-block.
static int kquant_level(float x, float scale, float min, int levels) {
    return scale > 0.0f ? clampi((int)std::nearbyint((x + min) / scale), 0, levels) : 0;
}

static void kquant_decoded(const uint8_t *scales, uint16_t d, uint16_t dmin, int j, float *scale,
                           float *min) {
    uint8_t sc, m;
    rs_q4k_scale_min(j, scales, &sc, &m);
    *scale = rs_f16_to_f32(d) * sc;
    *min = rs_f16_to_f32(dmin) * m;
}

static void quant_q4_k(const float *x, rs_block_q4_k *b) {
    kquant_scales(x, 15, &b->d, &b->dmin, b->scales);
    for (int c = 0; c < 4; c++) {
        float s0, m0, s1, m1;
        kquant_decoded(b->scales, b->d, b->dmin, 2 * c, &s0, &m0);
        kquant_decoded(b->scales, b->d, b->dmin, 2 * c + 1, &s1, &m1);
        for (int l = 0; l < 32; l++) {
            const int lo = kquant_level(x[64 * c + l], s0, m0, 15);
            const int hi = kquant_level(x[64 * c + 32 + l], s1, m1, 15);
            b->qs[32 * c + l] = (uint8_t)(lo | (hi << 4));
        }
    }
}

static void quant_q5_k(const float *x, rs_block_q5_k *b) {
    kquant_scales(x, 31, &b->d, &b->dmin, b->scales);
    std::memset(b->qh, 0, sizeof b->qh);
    for (int c = 0; c < 4; c++) {
        float s0, m0, s1, m1;
        kquant_decoded(b->scales, b->d, b->dmin, 2 * c, &s0, &m0);
        kquant_decoded(b->scales, b->d, b->dmin, 2 * c + 1, &s1, &m1);
        for (int l = 0; l < 32; l++) {
            const int lo = kquant_level(x[64 * c + l], s0, m0, 31);
            const int hi = kquant_level(x[64 * c + 32 + l], s1, m1, 31);
            b->qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
            b->qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
        }
    }
}

static void quant_q6_k(const float *x, rs_block_q6_k *b) {
    float scale[16], max_abs_scale = 0.0f, max_scale = 0.0f;
    for (int j = 0; j < 16; j++) {
        float amax = 0.0f, vmax = 0.0f;
        for (int i = 0; i < 16; i++)
            if (std::fabs(x[16 * j + i]) > amax) {
                amax = std::fabs(x[16 * j + i]);
                vmax = x[16 * j + i];
            }
        scale[j] = vmax / -32.0f;  // the largest magnitude maps to level 0 (value -32)
        if (std::fabs(scale[j]) > max_abs_scale) {
            max_abs_scale = std::fabs(scale[j]);
            max_scale = scale[j];
        }
    }
    // The super-block scale and the sub-block scales round away from zero, so no value is clamped.
    const float d = max_scale / -128.0f;
    b->d = f16_at_least(std::fabs(d)) | (d < 0.0f ? 0x8000 : 0);
    const float dq = rs_f16_to_f32(b->d);
    int q[256];
    for (int j = 0; j < 16; j++) {
        const float r = dq != 0.0f ? scale[j] / dq : 0.0f;
        const int sc = clampi(r >= 0.0f ? (int)std::ceil(r - 1e-4f) : -(int)std::ceil(-r - 1e-4f), -128, 127);
        b->scales[j] = (int8_t)sc;
        const float s = dq * (float)sc;
        for (int i = 0; i < 16; i++)
            q[16 * j + i] = s != 0.0f ? clampi((int)std::nearbyint(x[16 * j + i] / s) + 32, 0, 63) : 32;
    }
    for (int n = 0; n < 2; n++)
        for (int l = 0; l < 32; l++) {
            const int *qn = q + 128 * n;
            b->ql[64 * n + l] = (uint8_t)((qn[l] & 0xF) | ((qn[l + 64] & 0xF) << 4));
            b->ql[64 * n + 32 + l] = (uint8_t)((qn[l + 32] & 0xF) | ((qn[l + 96] & 0xF) << 4));
            b->qh[32 * n + l] = (uint8_t)((qn[l] >> 4) | ((qn[l + 32] >> 4) << 2) | ((qn[l + 64] >> 4) << 4) |
                                          ((qn[l + 96] >> 4) << 6));
        }
}

void rs_quantize_row(rs_dtype t, const float *x, void *row, int64_t k) {
    RS_CHECK(rs_dtype_is_quant(t), std::string("rs_quantize_row: ") + rs_dtype_name(t) + " is not quantized");
    const int64_t be = rs_dtype_block_elems(t);
    RS_CHECK(k % be == 0,
             "a row of " + std::to_string(k) + " elements is not whole " + rs_dtype_name(t) + " blocks");
    uint8_t *p = (uint8_t *)row;
    const size_t bb = rs_dtype_block_bytes(t);
    for (int64_t b = 0; b < k / be; b++, p += bb) {
        const float *xb = x + b * be;
        switch (t) {
            case RS_DTYPE_Q8_0:
                quant_q8_0(xb, (rs_block_q8_0 *)p);
                break;
            case RS_DTYPE_Q4_0:
                quant_q4_0(xb, (rs_block_q4_0 *)p);
                break;
            case RS_DTYPE_Q4_1:
                quant_q4_1(xb, (rs_block_q4_1 *)p);
                break;
            case RS_DTYPE_Q5_0:
                quant_q5_0(xb, (rs_block_q5_0 *)p);
                break;
            case RS_DTYPE_Q5_1:
                quant_q5_1(xb, (rs_block_q5_1 *)p);
                break;
            case RS_DTYPE_Q4_K:
                quant_q4_k(xb, (rs_block_q4_k *)p);
                break;
            case RS_DTYPE_Q5_K:
                quant_q5_k(xb, (rs_block_q5_k *)p);
                break;
            default:
                quant_q6_k(xb, (rs_block_q6_k *)p);
                break;
        }
    }
}
