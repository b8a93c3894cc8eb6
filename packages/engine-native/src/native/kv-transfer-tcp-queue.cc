// The send queue of a tcp data connection (kv-transfer-tcp-queue.h).
#include "kv-transfer-tcp-queue.h"

#include <thread>

#include "common.h"
#include "kv-transfer-tcp.h"

rs_tcp_conn::~rs_tcp_conn() {
    rs_tcp_close(fd);
}

std::unique_ptr<rs_tcp_frame> rs_tcp_frame_of_blocks(rs_engine *e, const int32_t *blocks, int n,
                                                     uint64_t offset) {
    auto f = std::make_unique<rs_tcp_frame>();
    if (!rs_kv_transfer_host_spans(e, blocks, n, f->spans)) return nullptr;
    f->engine = e;
    f->offset = offset;
    return f;
}

namespace {

// The queue's thread: writes frames in order until the connection is closed and nothing is queued.
void serve_queue(std::shared_ptr<rs_tcp_conn> c) {
    std::string failed;
    bool closing = false;  // the caller can no longer take reports
    for (;;) {
        rs_tcp_frame *f;
        {
            std::unique_lock<std::mutex> g(c->mu);
            c->wake.wait(g, [&] { return !c->frames.empty() || c->closed; });
            if (c->frames.empty()) break;
            f = c->frames.front();
            c->frames.pop_front();
        }
        if (!failed.empty()) {
            f->error = failed;
        } else {
            try {
                f->crc = rs_tcp_send_spans(c->fd, f->offset, f->spans);
            } catch (const std::exception &e) {
                f->error = failed = e.what();
            }
        }
        rs_kv_transfer_release(f->engine);  // may free an engine whose free() came meanwhile
        f->engine = nullptr;
        if (closing || !c->done(f)) {
            closing = true;
            delete f;
        }
    }
    if (!closing && c->on_exit) c->on_exit();
}

}  // namespace

void rs_tcp_conn_queue(const std::shared_ptr<rs_tcp_conn> &c, std::unique_ptr<rs_tcp_frame> f,
                       rs_tcp_frame_done_fn done, rs_tcp_queue_exit_fn on_exit) {
    if (!c->thread_started) {
        c->done = std::move(done);
        c->on_exit = std::move(on_exit);
        try {
            std::thread(serve_queue, c).detach();
        } catch (const std::exception &ex) {
            throw rs_error(std::string("tcp send queue: cannot start its thread: ") + ex.what());
        }
        c->thread_started = true;
    }
    rs_kv_transfer_hold(f->engine);  // the pool stays while the frame is queued, even past engine free
    {
        std::lock_guard<std::mutex> g(c->mu);
        c->frames.push_back(f.release());
    }
    c->wake.notify_one();
}

void rs_tcp_conn_close_queue(rs_tcp_conn *c) {
    {
        std::lock_guard<std::mutex> g(c->mu);
        c->closed = true;
    }
    c->wake.notify_all();
}
