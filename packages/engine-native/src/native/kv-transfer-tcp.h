// The native `tcp` data plane (Mooncake's split: control over gRPC, bytes over a raw channel). D's
// listener owns one accept thread and one thread per data connection; each connection names its
// transfer with a 16-byte key, then carries frames
//     [u64 LE byte offset][u32 LE length][u32 LE CRC-32C of the frame's bytes][bytes]
// in offset order, which the connection thread reads straight into the transfer's receive region
// (no JS on the data path). P's sender is a blocking socket written from a worker thread. Every
// completed frame, and the end of a connection that did not deliver everything, is reported through
// the listener's progress callback (called on the connection thread).
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

#include "kv-transfer-pool.h"

constexpr size_t RS_TCP_KEY_BYTES = 16;
constexpr size_t RS_TCP_HEADER_BYTES = 16;

struct rs_tcp_progress {
    std::string key;  // raw 16 bytes
    uint64_t frame_offset = 0;
    uint32_t frame_length = 0;
    uint32_t frame_crc = 0;
    std::string error;  // non-empty: the connection failed or ended early
};

using rs_tcp_progress_fn = std::function<void(const rs_tcp_progress &)>;

struct rs_tcp_transfer {
    std::string key;
    std::shared_ptr<rs_kv_region> region;
    size_t size = 0;  // bytes of this transfer: the first `size` bytes of the region
    std::mutex mu;
    int fd = -1;  // the data connection once it arrived
    bool cancelled = false;
    bool connected = false;
};

struct rs_tcp_listener {
    int fd = -1;
    int port = 0;
    rs_tcp_progress_fn progress;
    std::thread accept_thread;
    std::mutex mu;
    std::condition_variable idle;
    int connections = 0;  // connection threads still running
    std::atomic<bool> closing{false};
    std::map<std::string, std::shared_ptr<rs_tcp_transfer>> transfers;
};

// Binds host:0 and starts the accept thread. Throws rs_error on failure.
rs_tcp_listener *rs_tcp_listen(const std::string &host, rs_tcp_progress_fn progress);
// Registers a transfer of `size` bytes: the connection that presents `key` writes them into the
// start of `region` (which may be larger: receive regions are reused across transfers).
void rs_tcp_expect(rs_tcp_listener *l, const std::string &key, std::shared_ptr<rs_kv_region> region,
                   size_t size);
// Forgets a transfer and cuts its connection (D closed the receiver: deadline, failure or success).
void rs_tcp_cancel(rs_tcp_listener *l, const std::string &key);
// Stops accepting, cuts every connection, waits for the threads; then frees.
void rs_tcp_listener_free(rs_tcp_listener *l);

// P: connects within timeout_ms, sends the key; writes then fail after timeout_ms without progress.
int rs_tcp_connect(const std::string &host, int port, const std::string &key, int timeout_ms);
// Sends one frame (header + len bytes of data). Throws rs_error naming the peer problem.
void rs_tcp_send_frame(int fd, uint64_t offset, const uint8_t *data, uint32_t len, uint32_t crc);
void rs_tcp_close(int fd);

// Baseline for the benchmark: one in-process sender thread writes `bytes` over a loopback socket in
// `chunk`-byte writes into a plain receiver thread. Returns seconds.
double rs_tcp_raw_loopback(size_t bytes, size_t chunk);
