// CRC-32C, hardware and table versions. The hardware path follows Mark Adler's crc32c.c: three
// independent crc32 streams over consecutive LONG-byte lanes hide the instruction's 3-cycle latency,
// and a lane's CRC is moved past the following lanes with a precomputed "append LONG zero bytes"
// operator (four 256-entry tables), then xored in.
#include "kv-transfer-crc.h"

#include <cstring>
#include <mutex>

#if defined(__x86_64__)
#include <emmintrin.h>
#include <nmmintrin.h>
#endif

namespace {

constexpr uint32_t POLY = 0x82f63b78u;
constexpr size_t LONG = 8192;  // bytes per lane in the 3-way loop (power of two)
constexpr size_t SHORT = 256;  // lane size for the tail (power of two)

uint32_t table8[8][256];
uint32_t zeros_long[4][256];
uint32_t zeros_short[4][256];
std::once_flag tables_once;

uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1) sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

void gf2_matrix_square(uint32_t *square, const uint32_t *mat) {
    for (int n = 0; n < 32; n++) square[n] = gf2_matrix_times(mat, mat[n]);
}

// The operator that appends `len` zero bytes to a raw (un-inverted) CRC register; len a power of two.
void zeros_op(uint32_t *even, size_t len) {
    uint32_t odd[32];
    odd[0] = POLY;  // the operator for one zero bit
    uint32_t row = 1;
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_matrix_square(even, odd);  // 2 zero bits
    gf2_matrix_square(odd, even);  // 4 zero bits
    // Each square doubles: 8 bits (1 byte) first, until len bytes.
    do {
        gf2_matrix_square(even, odd);
        len >>= 1;
        if (len == 0) return;
        gf2_matrix_square(odd, even);
        len >>= 1;
    } while (len);
    std::memcpy(even, odd, sizeof(odd));
}

void zeros_tables(uint32_t zeros[][256], size_t len) {
    uint32_t op[32];
    zeros_op(op, len);
    for (uint32_t n = 0; n < 256; n++) {
        zeros[0][n] = gf2_matrix_times(op, n);
        zeros[1][n] = gf2_matrix_times(op, n << 8);
        zeros[2][n] = gf2_matrix_times(op, n << 16);
        zeros[3][n] = gf2_matrix_times(op, n << 24);
    }
}

uint32_t shift(const uint32_t zeros[][256], uint32_t crc) {
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^
           zeros[3][crc >> 24];
}

void init_tables() {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table8[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table8[0][n];
        for (int k = 1; k < 8; k++) {
            c = table8[0][c & 0xff] ^ (c >> 8);
            table8[k][n] = c;
        }
    }
    zeros_tables(zeros_long, LONG);
    zeros_tables(zeros_short, SHORT);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_hw(const uint8_t *next, size_t len, uint32_t crc) {
    uint64_t crc0 = crc ^ 0xffffffffu;
    while (len && ((uintptr_t)next & 7) != 0) {
        crc0 = _mm_crc32_u8((uint32_t)crc0, *next++);
        len--;
    }
    // Three lanes of LONG bytes at a time, then of SHORT bytes, then 8 bytes at a time.
    const size_t lanes[2] = {LONG, SHORT};
    const uint32_t(*zeros[2])[256] = {zeros_long, zeros_short};
    for (int k = 0; k < 2; k++) {
        const size_t lane = lanes[k];
        while (len >= lane * 3) {
            uint64_t crc1 = 0, crc2 = 0;
            const uint8_t *end = next + lane;
            do {
                uint64_t a, b, c;
                std::memcpy(&a, next, 8);
                std::memcpy(&b, next + lane, 8);
                std::memcpy(&c, next + 2 * lane, 8);
                crc0 = _mm_crc32_u64(crc0, a);
                crc1 = _mm_crc32_u64(crc1, b);
                crc2 = _mm_crc32_u64(crc2, c);
                next += 8;
            } while (next < end);
            crc0 = shift(zeros[k], (uint32_t)crc0) ^ crc1;
            crc0 = shift(zeros[k], (uint32_t)crc0) ^ crc2;
            next += lane * 2;
            len -= lane * 3;
        }
    }
    while (len >= 8) {
        uint64_t a;
        std::memcpy(&a, next, 8);
        crc0 = _mm_crc32_u64(crc0, a);
        next += 8;
        len -= 8;
    }
    while (len) {
        crc0 = _mm_crc32_u8((uint32_t)crc0, *next++);
        len--;
    }
    return (uint32_t)crc0 ^ 0xffffffffu;
}

bool have_sse42() {
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}

// One 64-byte line: stream it to dst and fold it into the CRC register.
__attribute__((target("sse4.2"), always_inline)) inline uint64_t line_copy_crc(uint8_t *dst,
                                                                               const uint8_t *src,
                                                                               uint64_t crc) {
    const __m128i a = _mm_loadu_si128((const __m128i *)src);
    const __m128i b = _mm_loadu_si128((const __m128i *)(src + 16));
    const __m128i c = _mm_loadu_si128((const __m128i *)(src + 32));
    const __m128i d = _mm_loadu_si128((const __m128i *)(src + 48));
    _mm_stream_si128((__m128i *)dst, a);
    _mm_stream_si128((__m128i *)(dst + 16), b);
    _mm_stream_si128((__m128i *)(dst + 32), c);
    _mm_stream_si128((__m128i *)(dst + 48), d);
    for (int i = 0; i < 64; i += 8) {
        uint64_t w;
        std::memcpy(&w, src + i, 8);  // from L1: the line was just loaded
        crc = _mm_crc32_u64(crc, w);
    }
    return crc;
}

// crc32c_hw's three-lane structure, each lane's lines copied as they are checksummed. dst must be
// 16-byte aligned (LONG and SHORT lanes keep every line of every lane aligned, too).
__attribute__((target("sse4.2"))) uint32_t crc32c_copy_nt_hw(uint8_t *dst, const uint8_t *src, size_t len,
                                                             uint32_t crc) {
    uint64_t crc0 = crc ^ 0xffffffffu;
    const size_t lanes[2] = {LONG, SHORT};
    const uint32_t(*zeros[2])[256] = {zeros_long, zeros_short};
    for (int k = 0; k < 2; k++) {
        const size_t lane = lanes[k];
        while (len >= lane * 3) {
            uint64_t crc1 = 0, crc2 = 0;
            for (size_t off = 0; off < lane; off += 64) {
                crc0 = line_copy_crc(dst + off, src + off, crc0);
                crc1 = line_copy_crc(dst + lane + off, src + lane + off, crc1);
                crc2 = line_copy_crc(dst + 2 * lane + off, src + 2 * lane + off, crc2);
            }
            crc0 = shift(zeros[k], (uint32_t)crc0) ^ crc1;
            crc0 = shift(zeros[k], (uint32_t)crc0) ^ crc2;
            src += lane * 3;
            dst += lane * 3;
            len -= lane * 3;
        }
    }
    // The tail (under 3 * SHORT bytes): plain copy, then its CRC.
    std::memcpy(dst, src, len);
    return crc32c_hw(src, len, (uint32_t)crc0 ^ 0xffffffffu);
}
#else
uint32_t crc32c_hw(const uint8_t *next, size_t len, uint32_t crc) {
    return rs_crc32c_table(next, len, crc);
}
bool have_sse42() {
    return false;
}
#endif

}  // namespace

uint32_t rs_crc32c_table(const uint8_t *next, size_t len, uint32_t crc) {
    std::call_once(tables_once, init_tables);
    uint64_t c = crc ^ 0xffffffffu;
    while (len && ((uintptr_t)next & 7) != 0) {
        c = table8[0][(c ^ *next++) & 0xff] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        std::memcpy(&w, next, 8);  // little-endian x86/arm64
        c ^= w;
        c = table8[7][c & 0xff] ^ table8[6][(c >> 8) & 0xff] ^ table8[5][(c >> 16) & 0xff] ^
            table8[4][(c >> 24) & 0xff] ^ table8[3][(c >> 32) & 0xff] ^ table8[2][(c >> 40) & 0xff] ^
            table8[1][(c >> 48) & 0xff] ^ table8[0][c >> 56];
        next += 8;
        len -= 8;
    }
    while (len) {
        c = table8[0][(c ^ *next++) & 0xff] ^ (c >> 8);
        len--;
    }
    return (uint32_t)c ^ 0xffffffffu;
}

uint32_t rs_crc32c(const uint8_t *data, size_t n, uint32_t crc) {
    std::call_once(tables_once, init_tables);
    return have_sse42() ? crc32c_hw(data, n, crc) : rs_crc32c_table(data, n, crc);
}

const char *rs_crc32c_impl() {
    return have_sse42() ? "sse4.2" : "table";
}

uint32_t rs_crc32c_copy(uint8_t *dst, const uint8_t *src, size_t n, uint32_t crc) {
    // 3 lanes of LONG: one tile is what the 3-way loop consumes at once, and it fits in L1/L2.
    constexpr size_t TILE = 3 * LONG;
    while (n > 0) {
        const size_t t = n < TILE ? n : TILE;
        std::memcpy(dst, src, t);
        crc = rs_crc32c(dst, t, crc);
        dst += t;
        src += t;
        n -= t;
    }
    return crc;
}

uint32_t rs_crc32c_copy_nt(uint8_t *dst, const uint8_t *src, size_t n, uint32_t crc) {
    std::call_once(tables_once, init_tables);
#if defined(__x86_64__)
    if (have_sse42() && ((uintptr_t)dst & 15) == 0) return crc32c_copy_nt_hw(dst, src, n, crc);
#endif
    crc = rs_crc32c(src, n, crc);
    std::memcpy(dst, src, n);
    return crc;
}
