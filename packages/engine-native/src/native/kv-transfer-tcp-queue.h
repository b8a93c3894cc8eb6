// P's side of one tcp data connection (kv-transfer-tcp.h): the socket and its send queue.
//
// Frames of host-pool blocks go through the connection's own send queue: one thread per connection
// writes them in call order, each straight after the one before, and reports each one (written or
// failed) through the `done` callback given with the first frame. With a worker-pool job per frame
// the socket sat idle between frames for a round trip through the caller (the job's completion,
// the next call, the next job's start): 256 MiB in 4 MiB frames between two engines in one process
// moved at 2.4-2.6 GB/s that way, 3.4-4.2 queued (2-vCPU VM). The queue does not take the engine's
// `busy` flag: it only reads blocks the caller has finished computing and keeps allocated until
// the frame is reported, so it may overlap the engine's steps (P sends chunk k while it computes
// k+1). After a failed frame the later ones fail with the same error (the stream of frames is
// broken). Frames queued before close() still go; the thread ends once the queue is closed and empty.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kv-transfer-pool.h"

// One frame of host-pool blocks waiting on a connection's send queue.
struct rs_tcp_frame {
    rs_engine *engine = nullptr;  // held (rs_kv_transfer_hold) from push until the frame is reported
    std::vector<rs_kv_span> spans;
    uint64_t offset = 0;
    void *user = nullptr;  // the caller's completion context (e.g. a promise to settle)
    uint32_t crc = 0;      // set when written
    std::string error;     // set when the frame failed
};

// Called on the queue's thread with each frame, in order, after the engine hold is released; it
// takes ownership of the frame. Returns false when it can no longer deliver (the caller's
// environment is going away): the queue then deletes this and every later frame itself.
using rs_tcp_frame_done_fn = std::function<bool(rs_tcp_frame *)>;
// Called once on the queue's thread as it ends, unless `done` returned false.
using rs_tcp_queue_exit_fn = std::function<void()>;

// A sender connection. The fd closes when the last holder (the caller's handle, an in-flight send
// or the queue's thread) lets go.
struct rs_tcp_conn {
    int fd = -1;
    std::mutex mu;
    std::condition_variable wake;
    std::deque<rs_tcp_frame *> frames;
    bool closed = false;          // no frame will be queued any more
    bool thread_started = false;  // guarded by the caller: rs_tcp_conn_queue is called from one thread
    rs_tcp_frame_done_fn done;
    rs_tcp_queue_exit_fn on_exit;
    explicit rs_tcp_conn(int fd_) : fd(fd_) {}
    ~rs_tcp_conn();
};

// The host spans of blocks[0..n) of e's pool as a frame at `offset`, or null (nothing taken) when
// the pool is not host memory: the caller then sends through rs_tcp_send_blocks instead.
std::unique_ptr<rs_tcp_frame> rs_tcp_frame_of_blocks(rs_engine *e, const int32_t *blocks, int n,
                                                     uint64_t offset);
// Queues the frame (holding its engine until it is reported). The first call starts the queue's
// thread with `done` / `on_exit` (later calls' are ignored). Throws rs_error when the thread cannot start.
void rs_tcp_conn_queue(const std::shared_ptr<rs_tcp_conn> &c, std::unique_ptr<rs_tcp_frame> f,
                       rs_tcp_frame_done_fn done, rs_tcp_queue_exit_fn on_exit);
// No more frames: the queue's thread ends once it has reported every frame already queued.
void rs_tcp_conn_close_queue(rs_tcp_conn *c);
