// Cluster-secret authentication of the tcp data plane: HMAC-SHA256 (RFC 2104 over FIPS 180-4
// SHA-256) and the challenge handshake both ends of a data connection run before any KV byte moves.
// The secret itself never crosses the wire: each side proves it knows the key by a MAC over fresh
// nonces from both ends (so a recorded handshake cannot be replayed) and the transfer key.
//
// With an auth key (32 bytes; the workers derive it from the cluster secret), a connection is:
//     D -> P  nonce_d                                        16 bytes, right after accept
//     P -> D  transfer key | nonce_p | HMAC(k, "P" | nonce_d | nonce_p | transfer key)   16 + 16 + 32
//     D -> P  HMAC(k, "D" | nonce_d | nonce_p | transfer key)                            32
// then frames as before. D closes a connection whose MAC is wrong without looking the transfer key
// up; P refuses a receiver whose MAC is wrong (it could not be a worker of this cluster).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

constexpr size_t RS_SHA256_BYTES = 32;
constexpr size_t RS_TCP_NONCE_BYTES = 16;
constexpr size_t RS_TCP_MAC_BYTES = RS_SHA256_BYTES;

void rs_sha256(const uint8_t *data, size_t n, uint8_t out[RS_SHA256_BYTES]);
void rs_hmac_sha256(const std::string &key, const std::string &msg, uint8_t out[RS_SHA256_BYTES]);
// Compares n bytes in time independent of where they differ.
bool rs_mac_equal(const uint8_t *a, const uint8_t *b, size_t n);
// Fills p with n bytes from the kernel's CSPRNG. Throws rs_error when it cannot.
void rs_random_bytes(uint8_t *p, size_t n);
// The handshake MAC of one side ('P' for the connecting side, 'D' for the listener).
std::string rs_tcp_handshake_mac(const std::string &auth_key, char side, const std::string &nonce_d,
                                 const std::string &nonce_p, const std::string &transfer_key);
