// Shared plain-C++ definitions of the engine: dtypes, half-precision conversions and the check macro.
// Nothing here includes napi.h: the engine is plain C++ and the binding translates its exceptions.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// Element types of weights and KV blocks. The block-quantized types (GGUF's layouts, see quant.h) are
// weights only: their rows are whole blocks of rs_dtype_block_elems elements.
enum rs_dtype {
    RS_DTYPE_F32 = 0,
    RS_DTYPE_F16 = 1,
    RS_DTYPE_BF16 = 2,
    RS_DTYPE_Q8_0 = 3,
    RS_DTYPE_Q4_0 = 4,
    RS_DTYPE_Q4_1 = 5,
    RS_DTYPE_Q4_K = 6,
    RS_DTYPE_Q5_K = 7,
    RS_DTYPE_Q6_K = 8,
    RS_DTYPE_Q5_0 = 9,
    RS_DTYPE_Q5_1 = 10,
    RS_DTYPE_LAST = RS_DTYPE_Q5_1,
};

inline bool rs_dtype_is_quant(rs_dtype t) {
    return t >= RS_DTYPE_Q8_0;
}
// Bytes of one element of a plain (not block-quantized) type.
inline size_t rs_dtype_size(rs_dtype t) {
    return t == RS_DTYPE_F32 ? 4 : 2;
}
// Elements per block: 1 for plain types, 32 or 256 for the quantized ones.
inline int rs_dtype_block_elems(rs_dtype t) {
    switch (t) {
        case RS_DTYPE_Q8_0:
        case RS_DTYPE_Q4_0:
        case RS_DTYPE_Q4_1:
        case RS_DTYPE_Q5_0:
        case RS_DTYPE_Q5_1:
            return 32;
        case RS_DTYPE_Q4_K:
        case RS_DTYPE_Q5_K:
        case RS_DTYPE_Q6_K:
            return 256;
        default:
            return 1;
    }
}
// Bytes of one block (of one element for plain types).
inline size_t rs_dtype_block_bytes(rs_dtype t) {
    switch (t) {
        case RS_DTYPE_Q8_0:
            return 34;
        case RS_DTYPE_Q4_0:
            return 18;
        case RS_DTYPE_Q4_1:
            return 20;
        case RS_DTYPE_Q4_K:
            return 144;
        case RS_DTYPE_Q5_K:
            return 176;
        case RS_DTYPE_Q6_K:
            return 210;
        case RS_DTYPE_Q5_0:
            return 22;
        case RS_DTYPE_Q5_1:
            return 24;
        default:
            return rs_dtype_size(t);
    }
}
// Bytes of a row of `cols` elements (cols a multiple of the block size).
inline size_t rs_row_bytes(rs_dtype t, int64_t cols) {
    return (size_t)(cols / rs_dtype_block_elems(t)) * rs_dtype_block_bytes(t);
}
inline const char *rs_dtype_name(rs_dtype t) {
    static const char *const names[] = {"f32",  "f16",  "bf16", "q8_0", "q4_0", "q4_1",
                                        "q4_k", "q5_k", "q6_k", "q5_0", "q5_1"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

// The engine never exits or aborts on bad input: every failed check throws, the binding turns the
// exception into a rejected Promise. The message carries the source location so a report can be traced.
class rs_error : public std::runtime_error {
  public:
    explicit rs_error(const std::string &msg) : std::runtime_error(msg) {}
};

[[noreturn]] inline void rs_fail(const char *file, int line, const std::string &msg) {
    const char *base = std::strrchr(file, '/');
    throw rs_error(msg + " [engine-native " + (base ? base + 1 : file) + ":" + std::to_string(line) + "]");
}

#define RS_CHECK(cond, msg)                              \
    do {                                                 \
        if (!(cond)) rs_fail(__FILE__, __LINE__, (msg)); \
    } while (0)

inline float rs_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Round-to-nearest-even, NaN kept quiet (what torch does when it casts to bfloat16).
inline uint16_t rs_f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

inline float rs_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3ffu;
            u = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (mant << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline uint16_t rs_f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);   // NaN
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // overflow (rounds to inf) or inf
    if (abs < 0x38800000u) {                                    // subnormal or zero in f16
        if (abs < 0x33000000u) return (uint16_t)sign;
        const uint32_t e = abs >> 23;
        const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // value / 2^-24 = m * 2^(e - 126)
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((abs - 0x38000000u) >> 13);
    const uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
    return (uint16_t)(sign | r);
}

// Reads element i of a row stored in any supported dtype as f32 (plain-loop helper).
inline float rs_load_f32(const void *data, rs_dtype t, size_t i) {
    switch (t) {
        case RS_DTYPE_F32:
            return ((const float *)data)[i];
        case RS_DTYPE_F16:
            return rs_f16_to_f32(((const uint16_t *)data)[i]);
        default:
            return rs_bf16_to_f32(((const uint16_t *)data)[i]);
    }
}

inline void rs_store_f32(void *data, rs_dtype t, size_t i, float v) {
    switch (t) {
        case RS_DTYPE_F32:
            ((float *)data)[i] = v;
            break;
        case RS_DTYPE_F16:
            ((uint16_t *)data)[i] = rs_f32_to_f16(v);
            break;
        default:
            ((uint16_t *)data)[i] = rs_f32_to_bf16(v);
            break;
    }
}

// 64-byte aligned storage for activations: a 64-byte vector load from a 16-byte aligned buffer
// straddles two cache lines every time.
template <typename T>
struct rs_aligned_allocator {
    using value_type = T;
    rs_aligned_allocator() = default;
    template <typename U>
    rs_aligned_allocator(const rs_aligned_allocator<U> &) {}
    T *allocate(size_t n) {
        void *p = std::aligned_alloc(64, ((n * sizeof(T) + 63) / 64) * 64);
        if (!p) throw std::bad_alloc();
        return (T *)p;
    }
    void deallocate(T *p, size_t) { std::free(p); }
    bool operator==(const rs_aligned_allocator &) const { return true; }
    bool operator!=(const rs_aligned_allocator &) const { return false; }
};

using rs_f32_buffer = std::vector<float, rs_aligned_allocator<float>>;
