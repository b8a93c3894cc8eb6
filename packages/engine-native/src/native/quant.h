// Block-quantized weights: the GGUF layouts of llama.cpp's ggml (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 in
// blocks of 32 values; Q4_K, Q5_K, Q6_K in super-blocks of 256). Weights stay in these layouts in memory; the
// SIMD matmuls (kernels-quant-*.cc) dequantize them in registers. This file holds the plain-loop
// code: dequantization (the exact path, embedding lookups, the kernels' test reference) and
// quantization (--quantization).
#pragma once

#include <cstdint>
#include <vector>

#include "common.h"

struct rs_block_q8_0 {
    uint16_t d;  // f16 scale
    int8_t qs[32];
};
struct rs_block_q4_0 {
    uint16_t d;      // f16 scale; x = d * (q - 8)
    uint8_t qs[16];  // element j in the low nibble of qs[j], element j + 16 in the high nibble
};
struct rs_block_q4_1 {
    uint16_t d;  // f16 scale
    uint16_t m;  // f16 offset; x = d * q + m
    uint8_t qs[16];
};
// Q5_0 / Q5_1: Q4_0 / Q4_1 with a fifth bit per value: bit j of qh (little-endian u32) for value j.
// Q5_0: x = d * (q - 16); Q5_1: x = d * q + m.
struct rs_block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
};
struct rs_block_q5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[16];
};
// Q4_K: 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min (packed in `scales`);
// x = d * sc * q - dmin * m. Sub-block 2i is the low nibbles of qs[32i .. 32i + 32], 2i + 1 the high.
struct rs_block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[128];
};
// Q5_K: Q4_K plus a fifth bit per element in qh (bit 2i of qh[l] for sub-block 2i, element l).
struct rs_block_q5_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
// Q6_K: 16 sub-blocks of 16 with int8 scales; x = d * sc * (q - 32), q 6 bits: low 4 in ql, high 2 in qh.
struct rs_block_q6_k {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
static_assert(sizeof(rs_block_q8_0) == 34, "q8_0 block");
static_assert(sizeof(rs_block_q4_0) == 18, "q4_0 block");
static_assert(sizeof(rs_block_q4_1) == 20, "q4_1 block");
static_assert(sizeof(rs_block_q5_0) == 22, "q5_0 block");
static_assert(sizeof(rs_block_q5_1) == 24, "q5_1 block");
static_assert(sizeof(rs_block_q4_k) == 144, "q4_k block");
static_assert(sizeof(rs_block_q5_k) == 176, "q5_k block");
static_assert(sizeof(rs_block_q6_k) == 210, "q6_k block");

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
inline void rs_q4k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Dequantizes `k` elements of a row in any dtype (plain or quantized) to f32.
void rs_dequantize_row(rs_dtype t, const void *row, float *out, int64_t k);
// Quantizes `k` f32 values (k a multiple of the block size) to a row of a quantized dtype.
void rs_quantize_row(rs_dtype t, const float *x, void *row, int64_t k);
