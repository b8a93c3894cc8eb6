// The native `tcp` data plane (Mooncake's split: control over gRPC, bytes over a raw channel). D's
// listener owns one accept thread and one thread per data connection; each connection names its
// transfer with a 16-byte key, then carries frames
//     [u64 LE byte offset][u32 LE length][u32 LE CRC-32C of the frame's bytes][bytes]
// in offset order, which the connection thread reads straight into the transfer's receive region
// (no JS on the data path). P's sender is a blocking socket written from one thread at a time (the
// connection's send queue thread, kv-transfer-tcp-binding.cc, or a worker thread). Every
// completed frame, and the end of a connection that did not deliver everything, is reported through
// the listener's progress callback (called on the connection thread). A listener given an auth key
// first runs the cluster-secret handshake of kv-transfer-auth.h on every connection (the sender
// must be given the same key) and drops the connections that fail it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kv-transfer-auth.h"
#include "kv-transfer-pool.h"

constexpr size_t RS_TCP_KEY_BYTES = 16;
constexpr size_t RS_TCP_HEADER_BYTES = 16;
constexpr size_t RS_TCP_TRAILER_BYTES = 4;

struct rs_tcp_progress {
    std::string key;  // raw 16 bytes
    uint64_t frame_offset = 0;
    uint32_t frame_length = 0;
    uint32_t frame_crc = 0;  // computed by the receiver over the bytes it read (equal to the trailer's)
    std::string error;       // non-empty: the connection failed or ended early
};

using rs_tcp_progress_fn = std::function<void(const rs_tcp_progress &)>;

struct rs_tcp_transfer {
    std::string key;
    std::vector<rs_kv_span> spans;         // where the transfer's bytes go, in byte order
    size_t size = 0;                       // total bytes (the spans' sum)
    std::shared_ptr<rs_kv_region> region;  // keeps a receive region alive (region mode)
    rs_engine *engine = nullptr;           // held while the spans point into its pool
    std::mutex mu;
    std::condition_variable io_done;
    int fd = -1;  // the data connection once it arrived
    bool cancelled = false;
    bool connected = false;
    bool io = false;  // the connection thread may be writing into the spans
    ~rs_tcp_transfer();
};

struct rs_tcp_listener {
    int fd = -1;
    int port = 0;
    std::string auth_key;              // empty: no handshake (the transfer key alone names a transfer)
    std::atomic<uint64_t> refused{0};  // connections dropped: failed handshake or unknown key
    rs_tcp_progress_fn progress;
    std::thread accept_thread;
    std::mutex mu;
    std::condition_variable idle;
    int connections = 0;  // connection threads still running
    std::atomic<bool> closing{false};
    std::map<std::string, std::shared_ptr<rs_tcp_transfer>> transfers;
};

// Binds host:port (0: a free port) and starts the accept thread. With a non-empty auth_key every
// connection must pass the handshake first. Throws rs_error on failure.
rs_tcp_listener *rs_tcp_listen(const std::string &host, int port, const std::string &auth_key,
                               rs_tcp_progress_fn progress);
// Registers a transfer of `size` bytes: the connection that presents `key` writes them into the
// start of `region` (which may be larger: receive regions are reused across transfers).
void rs_tcp_expect(rs_tcp_listener *l, const std::string &key, std::shared_ptr<rs_kv_region> region,
                   size_t size);
// Registers a transfer straight into blocks[0..n) of e's pool (host spans); holds e until the
// transfer is forgotten. False (nothing registered) when the pool is not in host memory.
bool rs_tcp_expect_blocks(rs_tcp_listener *l, const std::string &key, rs_engine *e, const int32_t *blocks,
                          int n);
// Forgets a transfer and cuts its connection (D closed the receiver: deadline, failure or success).
// Returns once the connection thread no longer writes into the transfer's memory, so the caller
// may hand the blocks to someone else.
void rs_tcp_cancel(rs_tcp_listener *l, const std::string &key);
// Stops accepting, cuts every connection, waits for the threads; then frees.
void rs_tcp_listener_free(rs_tcp_listener *l);

// P: connects within timeout_ms, runs the handshake when auth_key is non-empty (throws when the
// receiver fails it or drops the connection), sends the key; writes then fail after timeout_ms
// without progress.
int rs_tcp_connect(const std::string &host, int port, const std::string &key, const std::string &auth_key,
                   int timeout_ms);
// Sends one frame of len bytes of data with its CRC-32C. Throws rs_error naming the peer problem.
void rs_tcp_send_frame(int fd, uint64_t offset, const uint8_t *data, uint32_t len, uint32_t crc);
// Sends blocks[0..n) of e's pool as one frame straight from the pool (each block's shards are
// checksummed just before they go); returns the CRC-32C. Falls back to a staging copy when the
// pool is not host memory. Must not overlap other calls on e (it is queued like an export).
uint32_t rs_tcp_send_blocks(rs_engine *e, int fd, uint64_t offset, const int32_t *blocks, int n);
// Sends spans (host memory, in order) as one frame, checksumming each span just before it goes;
// returns the CRC-32C. The caller keeps the memory alive and unchanged until it returns.
uint32_t rs_tcp_send_spans(int fd, uint64_t offset, const std::vector<rs_kv_span> &spans);
void rs_tcp_close(int fd);

// Baseline for the benchmark: one in-process sender thread writes `bytes` over a loopback socket in
// `chunk`-byte writes into a plain receiver thread; `whole`: from and into transfer-sized buffers
// (memory to memory, like a KV transfer), else one cached chunk buffer each end. Returns seconds.
double rs_tcp_raw_loopback(size_t bytes, size_t chunk, bool whole);
