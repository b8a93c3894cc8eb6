#include "kv-transfer-auth.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace {

constexpr uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t rotr(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

// One 64-byte block into the state h[0..8).
void sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        const uint32_t t1 =
            hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

}  // namespace

void rs_sha256(const uint8_t *data, size_t n, uint8_t out[RS_SHA256_BYTES]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t i = 0;
    for (; i + 64 <= n; i += 64) sha256_block(h, data + i);
    // The tail, the 0x80 marker, zeros, and the bit length (big-endian) in one or two blocks.
    uint8_t last[128] = {};
    const size_t rest = n - i;
    std::memcpy(last, data + i, rest);
    last[rest] = 0x80;
    const size_t blocks = rest + 1 + 8 <= 64 ? 1 : 2;
    const uint64_t bits = (uint64_t)n * 8;
    for (int b = 0; b < 8; b++) last[blocks * 64 - 1 - b] = (uint8_t)(bits >> (8 * b));
    for (size_t b = 0; b < blocks; b++) sha256_block(h, last + 64 * b);
    for (int j = 0; j < 8; j++) {
        out[4 * j] = (uint8_t)(h[j] >> 24);
        out[4 * j + 1] = (uint8_t)(h[j] >> 16);
        out[4 * j + 2] = (uint8_t)(h[j] >> 8);
        out[4 * j + 3] = (uint8_t)h[j];
    }
}

void rs_hmac_sha256(const std::string &key, const std::string &msg, uint8_t out[RS_SHA256_BYTES]) {
    uint8_t k[64] = {};
    if (key.size() > 64)
        rs_sha256((const uint8_t *)key.data(), key.size(), k);
    else
        std::memcpy(k, key.data(), key.size());
    std::string inner(64, '\0'), outer(64 + RS_SHA256_BYTES, '\0');
    for (int i = 0; i < 64; i++) {
        inner[i] = (char)(k[i] ^ 0x36);
        outer[i] = (char)(k[i] ^ 0x5c);
    }
    inner += msg;
    rs_sha256((const uint8_t *)inner.data(), inner.size(), (uint8_t *)&outer[64]);
    rs_sha256((const uint8_t *)outer.data(), outer.size(), out);
}

bool rs_mac_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++) diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

void rs_random_bytes(uint8_t *p, size_t n) {
    while (n > 0) {
        const ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        RS_CHECK(r > 0, std::string("cannot read random bytes: ") + std::strerror(errno));
        p += r;
        n -= (size_t)r;
    }
}

std::string rs_tcp_handshake_mac(const std::string &auth_key, char side, const std::string &nonce_d,
                                 const std::string &nonce_p, const std::string &transfer_key) {
    uint8_t mac[RS_TCP_MAC_BYTES];
    rs_hmac_sha256(auth_key, std::string(1, side) + nonce_d + nonce_p + transfer_key, mac);
    return std::string((const char *)mac, sizeof(mac));
}
