// N-API surface of the native tcp data plane (native/kv-transfer-tcp.*): D's listener (progress
// reported to JS through a thread-safe function), P's connections and frame sends (a host pool's
// frames go onto the connection's native send queue, native/kv-transfer-tcp-queue.*; worker
// threads otherwise).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "kv-transfer-binding.h"
#include "native/kv-transfer-crc.h"
#include "native/kv-transfer-tcp-queue.h"
#include "native/kv-transfer-tcp.h"

namespace {

struct listener_handle {
    rs_tcp_listener *listener = nullptr;
    Napi::ThreadSafeFunction tsfn;
};

// A sender connection (native/kv-transfer-tcp-queue.h) and, once its send queue runs, the
// thread-safe function its thread reports frames through.
struct tcp_conn {
    std::shared_ptr<rs_tcp_conn> native;
    napi_threadsafe_function done = nullptr;  // completions -> JS; released by the queue's thread
    int pending = 0;                          // frames queued and not settled (JS thread only)
};
struct conn_handle {
    std::shared_ptr<tcp_conn> conn;
    ~conn_handle() {
        if (conn) rs_tcp_conn_close_queue(conn->native.get());
    }
};

std::string key_of(const Napi::Value &v) {
    if (!v.IsString()) throw Napi::TypeError::New(v.Env(), "transfer key must be a hex string");
    const std::string hex = v.As<Napi::String>().Utf8Value();
    if (hex.size() != RS_TCP_KEY_BYTES * 2)
        throw Napi::TypeError::New(v.Env(), "transfer key must be 32 hex digits");
    std::string raw(RS_TCP_KEY_BYTES, '\0');
    for (size_t i = 0; i < RS_TCP_KEY_BYTES; i++) {
        const std::string byte = hex.substr(i * 2, 2);
        char *end = nullptr;
        const long b = std::strtol(byte.c_str(), &end, 16);
        if (end != byte.c_str() + 2)
            throw Napi::TypeError::New(v.Env(), "transfer key must be 32 hex digits");
        raw[i] = (char)b;
    }
    return raw;
}

std::string hex_of(const std::string &raw) {
    static const char *digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

listener_handle *listener_of(const Napi::Value &v) {
    if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected a tcp listener handle");
    listener_handle *h = v.As<Napi::External<listener_handle>>().Data();
    if (!h->listener) throw Napi::Error::New(v.Env(), "tcp listener has been closed");
    return h;
}

std::shared_ptr<tcp_conn> conn_of(const Napi::Value &v) {
    if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected a tcp connection handle");
    std::shared_ptr<tcp_conn> c = v.As<Napi::External<conn_handle>>().Data()->conn;
    if (!c) throw Napi::Error::New(v.Env(), "tcp connection has been closed");
    return c;
}

// An auth key argument: a Buffer of 32 bytes, or undefined / empty for none.
std::string auth_key_of(const Napi::Value &v) {
    if (v.IsUndefined() || v.IsNull()) return "";
    if (!v.IsBuffer()) throw Napi::TypeError::New(v.Env(), "auth key must be a Buffer");
    auto b = v.As<Napi::Buffer<uint8_t>>();
    if (b.Length() != 0 && b.Length() != RS_TCP_MAC_BYTES)
        throw Napi::RangeError::New(v.Env(), "auth key must be 32 bytes");
    return std::string((const char *)b.Data(), b.Length());
}

// tcpListen(host, port, authKey, onProgress(keyHex, frameOffset, frameLength, frameCrc, error)) -> { handle,
// port }
Napi::Value tcp_listen(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsNumber() || !info[3].IsFunction())
        throw Napi::TypeError::New(env, "tcpListen(host, port, authKey, onProgress)");
    const int port = info[1].As<Napi::Number>().Int32Value();
    if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "port must be 0..65535");
    const std::string auth_key = auth_key_of(info[2]);
    auto *h = new listener_handle();
    h->tsfn = Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "radixserve-kv-tcp", 0, 1);
    h->tsfn.Unref(env);  // an idle listener does not keep the process alive
    Napi::ThreadSafeFunction tsfn = h->tsfn;
    try {
        const std::string host = info[0].As<Napi::String>().Utf8Value();
        h->listener = rs_tcp_listen(host, port, auth_key, [tsfn](const rs_tcp_progress &p) {
            auto *copy = new rs_tcp_progress(p);
            const napi_status st =
                tsfn.NonBlockingCall(copy, [](Napi::Env env, Napi::Function fn, rs_tcp_progress *d) {
                    std::unique_ptr<rs_tcp_progress> own(d);
                    if (env == nullptr || fn == nullptr) return;  // the environment is shutting down
                    try {
                        fn.Call({Napi::String::New(env, hex_of(d->key)),
                                 Napi::Number::New(env, (double)d->frame_offset),
                                 Napi::Number::New(env, d->frame_length),
                                 Napi::Number::New(env, d->frame_crc), Napi::String::New(env, d->error)});
                    } catch (const Napi::Error &e) {
                        // A throwing progress handler must not take the process down from a native
                        // callback: report it like any uncaught exception.
                        napi_fatal_exception(env, e.Value());
                    }
                });
            if (st != napi_ok) delete copy;
        });
    } catch (const std::exception &e) {
        h->tsfn.Release();
        delete h;
        throw Napi::Error::New(env, e.what());
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("port", h->listener->port);
    o.Set("handle", Napi::External<listener_handle>::New(env, h));
    return o;
}

// While transfers are expected the listener keeps the event loop alive (their progress is due).
Napi::Value tcp_listener_ref(const Napi::CallbackInfo &info) {
    listener_handle *h = listener_of(info[0]);
    if (info[1].ToBoolean().Value())
        h->tsfn.Ref(info.Env());
    else
        h->tsfn.Unref(info.Env());
    return info.Env().Undefined();
}

// tcpListenerRefused(listener) -> connections dropped so far (failed handshake or unknown key).
Napi::Value tcp_listener_refused(const Napi::CallbackInfo &info) {
    listener_handle *h = listener_of(info[0]);
    return Napi::Number::New(info.Env(), (double)h->listener->refused.load());
}

// Stops the listener and waits for its threads (a connection without a key: up to 10 s).
Napi::Value tcp_listener_close(const Napi::CallbackInfo &info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "expected a tcp listener handle");
    listener_handle *h = info[0].As<Napi::External<listener_handle>>().Data();
    if (!h->listener) return info.Env().Undefined();
    rs_tcp_listener_free(h->listener);
    h->listener = nullptr;
    h->tsfn.Release();
    return info.Env().Undefined();
}

// tcpExpect(listener, keyHex, region, size): the connection presenting the key fills [0, size) of region.
Napi::Value tcp_expect(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    listener_handle *h = listener_of(info[0]);
    const std::string key = key_of(info[1]);
    std::shared_ptr<rs_kv_region> r = rs_region_of(info[2]);
    const double size = info[3].ToNumber().DoubleValue();
    if (!(size >= 1) || size != (double)(uint64_t)size)
        throw Napi::RangeError::New(env, "tcp transfer size must be a positive integer");
    try {
        rs_tcp_expect(h->listener, key, r, (size_t)size);
    } catch (const std::exception &e) {
        throw Napi::Error::New(env, e.what());
    }
    return env.Undefined();
}

// tcpExpectBlocks(listener, keyHex, engine, blockIds) -> false when the pool is not host memory.
Napi::Value tcp_expect_blocks(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    listener_handle *h = listener_of(info[0]);
    const std::string key = key_of(info[1]);
    rs_engine *e = rs_binding_engine_of(info[2]);
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw Napi::TypeError::New(env, "blockIds must be an Int32Array");
    Napi::Int32Array ids = info[3].As<Napi::Int32Array>();
    try {
        return Napi::Boolean::New(
            env, rs_tcp_expect_blocks(h->listener, key, e, ids.Data(), (int)ids.ElementLength()));
    } catch (const std::exception &ex) {
        throw Napi::Error::New(env, ex.what());
    }
}

Napi::Value tcp_cancel(const Napi::CallbackInfo &info) {
    listener_handle *h = listener_of(info[0]);
    rs_tcp_cancel(h->listener, key_of(info[1]));
    return info.Env().Undefined();
}

class connect_worker : public Napi::AsyncWorker {
  public:
    connect_worker(Napi::Env env, std::string host, int port, std::string key, std::string auth_key,
                   int timeout_ms)
        : Napi::AsyncWorker(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          host_(std::move(host)),
          key_(std::move(key)),
          auth_key_(std::move(auth_key)),
          port_(port),
          timeout_ms_(timeout_ms) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            fd_ = rs_tcp_connect(host_, port_, key_, auth_key_, timeout_ms_);
        } catch (const std::exception &e) {
            SetError(e.what());
        }
    }
    void OnOK() override {
        auto *h = new conn_handle();
        h->conn = std::make_shared<tcp_conn>();
        h->conn->native = std::make_shared<rs_tcp_conn>(fd_);
        deferred_.Resolve(
            Napi::External<conn_handle>::New(Env(), h, [](Napi::Env, conn_handle *c) { delete c; }));
    }
    void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

  private:
    Napi::Promise::Deferred deferred_;
    std::string host_, key_, auth_key_;
    int port_, timeout_ms_;
    int fd_ = -1;
};

Napi::Value tcp_connect(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsNumber() || !info[4].IsNumber())
        throw Napi::TypeError::New(env, "tcpConnect(host, port, keyHex, authKey, timeoutMs)");
    const int port = info[1].As<Napi::Number>().Int32Value();
    if (port <= 0 || port > 65535) throw Napi::RangeError::New(env, "port must be 1..65535");
    auto *w = new connect_worker(env, info[0].As<Napi::String>().Utf8Value(), port, key_of(info[2]),
                                 auth_key_of(info[3]), std::max(1, info[4].As<Napi::Number>().Int32Value()));
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

// tcpSendFrame(conn, source (region), sourceOffset, length, frameOffset, crc) -> Promise<void>
class send_worker : public Napi::AsyncWorker {
  public:
    send_worker(Napi::Env env, std::shared_ptr<tcp_conn> c, std::shared_ptr<rs_kv_region> r, const uint8_t *p,
                uint32_t len, uint64_t frame_offset, uint32_t crc)
        : Napi::AsyncWorker(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          conn_(std::move(c)),
          region_(std::move(r)),
          ptr_(p),
          len_(len),
          frame_offset_(frame_offset),
          crc_(crc) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            rs_tcp_send_frame(conn_->native->fd, frame_offset_, ptr_, len_, crc_);
        } catch (const std::exception &e) {
            SetError(e.what());
        }
    }
    void OnOK() override { deferred_.Resolve(Env().Undefined()); }
    void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

  private:
    Napi::Promise::Deferred deferred_;
    std::shared_ptr<tcp_conn> conn_;
    std::shared_ptr<rs_kv_region> region_;
    const uint8_t *ptr_;
    uint32_t len_;
    uint64_t frame_offset_;
    uint32_t crc_;
};

Napi::Value tcp_send_frame(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::shared_ptr<tcp_conn> c = conn_of(info[0]);
    std::shared_ptr<rs_kv_region> r = rs_region_of(info[1]);
    const double off = info[2].ToNumber().DoubleValue();
    const double len = info[3].ToNumber().DoubleValue();
    const double frame_offset = info[4].ToNumber().DoubleValue();
    if (!(off >= 0) || !(len >= 1) || len > 0xffffffffu || off + len > (double)r->size ||
        !(frame_offset >= 0))
        throw Napi::RangeError::New(env, "tcpSendFrame: the frame is outside the source region");
    auto *w = new send_worker(env, c, r, r->data + (size_t)off, (uint32_t)len, (uint64_t)frame_offset,
                              info[5].ToNumber().Uint32Value());
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

// engineSendBlocks(engine, blockIds, conn, frameOffset) -> Promise<crc>: one frame straight from the pool.
class send_blocks_worker : public Napi::AsyncWorker {
  public:
    send_blocks_worker(Napi::Env env, Napi::Value handle, rs_engine *e, std::vector<int32_t> ids,
                       std::shared_ptr<tcp_conn> c, uint64_t frame_offset)
        : Napi::AsyncWorker(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          engine_(e),
          ids_(std::move(ids)),
          conn_(std::move(c)),
          frame_offset_(frame_offset) {
        handle_ref_ = Napi::Persistent(handle.As<Napi::Object>());
    }
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            crc_ =
                rs_tcp_send_blocks(engine_, conn_->native->fd, frame_offset_, ids_.data(), (int)ids_.size());
        } catch (const std::exception &e) {
            SetError(e.what());
        }
    }
    void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), crc_)); }
    void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

  private:
    Napi::Promise::Deferred deferred_;
    rs_engine *engine_;
    std::vector<int32_t> ids_;
    std::shared_ptr<tcp_conn> conn_;
    uint64_t frame_offset_;
    Napi::ObjectReference handle_ref_;
    uint32_t crc_ = 0;
};

Napi::Value engine_send_blocks(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    rs_engine *e = rs_binding_engine_of(info[0]);
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw Napi::TypeError::New(env, "blockIds must be an Int32Array");
    Napi::Int32Array a = info[1].As<Napi::Int32Array>();
    std::vector<int32_t> ids(a.Data(), a.Data() + a.ElementLength());
    std::shared_ptr<tcp_conn> c = conn_of(info[2]);
    const double off = info[3].ToNumber().DoubleValue();
    if (!(off >= 0)) throw Napi::RangeError::New(env, "frame offset must be >= 0");
    auto *w = new send_blocks_worker(env, info[0], e, std::move(ids), c, (uint64_t)off);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

// Ends the connection: queued bytes still go (graceful FIN); a send in flight keeps the fd until it settles.
Napi::Value tcp_close(const Napi::CallbackInfo &info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "expected a tcp connection handle");
    conn_handle *h = info[0].As<Napi::External<conn_handle>>().Data();
    if (h->conn) rs_tcp_conn_close_queue(h->conn->native.get());
    h->conn.reset();
    return info.Env().Undefined();
}

// JS thread: settles a written (or failed) frame's promise. env is null when the environment is
// going away; the frame is then only freed.
void settle_frame(napi_env env, napi_value, void *context, void *data) {
    std::unique_ptr<rs_tcp_frame> f(static_cast<rs_tcp_frame *>(data));
    tcp_conn *c = static_cast<std::shared_ptr<tcp_conn> *>(context)->get();
    if (env == nullptr) return;
    Napi::HandleScope scope(env);
    auto deferred = static_cast<napi_deferred>(f->user);
    if (f->error.empty()) {
        napi_resolve_deferred(env, deferred, Napi::Number::New(env, f->crc));
    } else {
        napi_reject_deferred(env, deferred, Napi::Error::New(env, f->error).Value());
    }
    // While frames are queued their completions are due: keep the event loop alive until then.
    if (--c->pending == 0) napi_unref_threadsafe_function(env, c->done);
}

// tcpQueueBlocks(engine, blockIds, conn, frameOffset) -> Promise<crc> | null: queues the blocks as
// one frame on the connection's send queue (native/kv-transfer-tcp-queue.h). null (nothing queued)
// when the pool is not host memory: the caller sends through engineSendBlocks, queued with the
// engine's calls.
Napi::Value tcp_queue_blocks(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    rs_engine *e = rs_binding_engine_of(info[0]);
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw Napi::TypeError::New(env, "blockIds must be an Int32Array");
    Napi::Int32Array ids = info[1].As<Napi::Int32Array>();
    std::shared_ptr<tcp_conn> c = conn_of(info[2]);
    const double off = info[3].ToNumber().DoubleValue();
    if (!(off >= 0)) throw Napi::RangeError::New(env, "frame offset must be >= 0");
    std::unique_ptr<rs_tcp_frame> f;
    try {
        f = rs_tcp_frame_of_blocks(e, ids.Data(), (int)ids.ElementLength(), (uint64_t)off);
    } catch (const std::exception &ex) {
        throw Napi::Error::New(env, ex.what());
    }
    if (!f) return env.Null();
    const bool first = !c->native->thread_started;
    if (first) {
        napi_value name = Napi::String::New(env, "radixserve-kv-tcp-send");
        // The function holds the connection until its last completion has been delivered.
        auto *hold = new std::shared_ptr<tcp_conn>(c);
        const napi_status st = napi_create_threadsafe_function(
            env, nullptr, nullptr, name, 0, 1, hold,
            [](napi_env, void *data, void *) { delete static_cast<std::shared_ptr<tcp_conn> *>(data); }, hold,
            settle_frame, &c->done);
        if (st != napi_ok) {
            delete hold;
            throw Napi::Error::New(env, "tcp send queue: cannot create its completion callback");
        }
        napi_unref_threadsafe_function(env, c->done);
    }
    napi_value promise;
    napi_deferred deferred;
    NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
    f->user = deferred;
    napi_threadsafe_function done = c->done;
    try {
        rs_tcp_conn_queue(
            c->native, std::move(f),
            [done](rs_tcp_frame *fr) {
                return napi_call_threadsafe_function(done, fr, napi_tsfn_blocking) == napi_ok;
            },
            [done]() { napi_release_threadsafe_function(done, napi_tsfn_release); });
    } catch (const std::exception &ex) {
        if (first) {
            napi_release_threadsafe_function(c->done, napi_tsfn_release);
            c->done = nullptr;
        }
        napi_reject_deferred(env, deferred, Napi::Error::New(env, ex.what()).Value());
        return Napi::Value(env, promise);
    }
    if (c->pending++ == 0) napi_ref_threadsafe_function(env, c->done);
    return Napi::Value(env, promise);
}

// tcpRawLoopback(bytes, chunk, whole) -> seconds (benchmark baseline; blocks the calling thread).
Napi::Value tcp_raw_loopback(const Napi::CallbackInfo &info) {
    const double bytes = info[0].ToNumber().DoubleValue();
    const double chunk = info[1].ToNumber().DoubleValue();
    if (!(bytes >= 1) || !(chunk >= 1))
        throw Napi::RangeError::New(info.Env(), "tcpRawLoopback(bytes, chunk)");
    try {
        return Napi::Number::New(
            info.Env(), rs_tcp_raw_loopback((size_t)bytes, (size_t)chunk, info[2].ToBoolean().Value()));
    } catch (const std::exception &e) {
        throw Napi::Error::New(info.Env(), e.what());
    }
}

}  // namespace

void rs_kv_transfer_register_tcp(Napi::Env env, Napi::Object exports) {
    exports.Set("tcpListen", Napi::Function::New(env, tcp_listen));
    exports.Set("tcpListenerClose", Napi::Function::New(env, tcp_listener_close));
    exports.Set("tcpListenerRef", Napi::Function::New(env, tcp_listener_ref));
    exports.Set("tcpListenerRefused", Napi::Function::New(env, tcp_listener_refused));
    exports.Set("tcpExpect", Napi::Function::New(env, tcp_expect));
    exports.Set("tcpExpectBlocks", Napi::Function::New(env, tcp_expect_blocks));
    exports.Set("engineSendBlocks", Napi::Function::New(env, engine_send_blocks));
    exports.Set("tcpQueueBlocks", Napi::Function::New(env, tcp_queue_blocks));
    exports.Set("tcpCancel", Napi::Function::New(env, tcp_cancel));
    exports.Set("tcpConnect", Napi::Function::New(env, tcp_connect));
    exports.Set("tcpSendFrame", Napi::Function::New(env, tcp_send_frame));
    exports.Set("tcpClose", Napi::Function::New(env, tcp_close));
    exports.Set("tcpRawLoopback", Napi::Function::New(env, tcp_raw_loopback));
}
