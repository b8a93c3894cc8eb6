// The tcp data plane (kv-transfer-tcp.h): D's listener and connection threads, P's connect and
// frame sends. One file of ~510 lines: the frame format is written by the sender half and read by
// the receiver half here, and both must change together; the send queue is kv-transfer-tcp-queue.cc.
#include "kv-transfer-tcp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "common.h"
#include "engine.h"
#include "kv-transfer-crc.h"

namespace {

std::string errstr(int err) {
    return std::strerror(err);
}

// Reads exactly n bytes; false on EOF or error (errno set; 0 = EOF).
bool read_full(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        const ssize_t r = recv(fd, p, n, 0);
        if (r == 0) {
            errno = 0;
            return false;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

uint64_t le64(const uint8_t *p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
uint32_t le32(const uint8_t *p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

void set_timeout(int fd, int opt, int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

// Reads `len` bytes of the transfer starting at byte `at` straight into its spans, checksumming each
// piece right after it lands. False on EOF / error (errno set; 0 = EOF).
bool read_into_spans(int fd, const rs_tcp_transfer &t, uint64_t at, uint64_t len, uint32_t &crc) {
    size_t i = 0;
    uint64_t base = 0;
    while (base + t.spans[i].len <= at) base += t.spans[i++].len;  // the span holding byte `at`
    while (len > 0) {
        const rs_kv_span &s = t.spans[i];
        const uint64_t in = at - base;
        const uint64_t n = std::min<uint64_t>(len, s.len - in);
        if (!read_full(fd, s.data + in, (size_t)n)) return false;
        crc = rs_crc32c(s.data + in, (size_t)n, crc);
        at += n;
        len -= n;
        if (at == base + s.len) base += t.spans[i++].len;
    }
    return true;
}

std::string lost(uint64_t received, uint64_t size, bool inside) {
    if (errno) return "tcp data connection failed: " + errstr(errno);
    return inside ? "tcp data connection closed by the sender inside a frame, after " +
                        std::to_string(received) + " of " + std::to_string(size) + " bytes"
                  : "tcp data connection closed by the sender after " + std::to_string(received) + " of " +
                        std::to_string(size) + " bytes";
}

// Writes exactly n bytes; false on error.
bool write_full(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

// D's side of the handshake (kv-transfer-auth.h): the transfer key, once the sender proved it holds
// the auth key; empty when it did not (nothing is looked up for it).
std::string accept_handshake(rs_tcp_listener *l, int fd) {
    uint8_t buf[RS_TCP_KEY_BYTES + RS_TCP_NONCE_BYTES + RS_TCP_MAC_BYTES];
    if (l->auth_key.empty()) {
        if (!read_full(fd, buf, RS_TCP_KEY_BYTES)) return "";
        return std::string((const char *)buf, RS_TCP_KEY_BYTES);
    }
    uint8_t nonce_d[RS_TCP_NONCE_BYTES];
    try {
        rs_random_bytes(nonce_d, sizeof(nonce_d));
    } catch (const std::exception &) {
        return "";
    }
    if (!write_full(fd, nonce_d, sizeof(nonce_d)) || !read_full(fd, buf, sizeof(buf))) return "";
    const std::string nd((const char *)nonce_d, sizeof(nonce_d));
    const std::string key((const char *)buf, RS_TCP_KEY_BYTES);
    const std::string np((const char *)buf + RS_TCP_KEY_BYTES, RS_TCP_NONCE_BYTES);
    const std::string want = rs_tcp_handshake_mac(l->auth_key, 'P', nd, np, key);
    if (!rs_mac_equal((const uint8_t *)want.data(), buf + RS_TCP_KEY_BYTES + RS_TCP_NONCE_BYTES,
                      RS_TCP_MAC_BYTES))
        return "";
    const std::string mine = rs_tcp_handshake_mac(l->auth_key, 'D', nd, np, key);
    if (!write_full(fd, (const uint8_t *)mine.data(), mine.size())) return "";
    return key;
}

// One data connection: handshake and key, then frames into the transfer's memory until it is complete.
void serve_connection(rs_tcp_listener *l, int fd) {
    rs_tcp_progress report;
    std::shared_ptr<rs_tcp_transfer> t;
    set_timeout(fd, SO_RCVTIMEO, 10000);  // the key must come promptly; frames then wait for P freely
    const std::string key = accept_handshake(l, fd);
    if (!key.empty()) {
        std::lock_guard<std::mutex> g(l->mu);
        auto it = l->transfers.find(key);
        if (it != l->transfers.end()) t = it->second;
    }
    if (!t) l->refused.fetch_add(1);
    if (t) {
        std::lock_guard<std::mutex> g(t->mu);
        if (t->cancelled || t->connected) {
            t.reset();  // late, or a second connection for one key
        } else {
            t->fd = fd;
            t->connected = true;
            t->io = true;
        }
    }
    if (t) {
        set_timeout(fd, SO_RCVTIMEO, 0);
        report.key = t->key;
        const uint64_t size = t->size;
        uint64_t received = 0;
        uint8_t h[RS_TCP_HEADER_BYTES];
        while (received < size) {
            if (!read_full(fd, h, sizeof(h))) {
                report.error = lost(received, size, false);
                break;
            }
            const uint64_t off = le64(h);
            const uint32_t len = le32(h + 8);
            if (off != received || len == 0 || len > size - off) {
                report.error = "tcp frame at " + std::to_string(off) + " (+" + std::to_string(len) +
                               ") is out of order or outside the " + std::to_string(size) + "-byte transfer";
                break;
            }
            uint32_t crc = 0;
            uint8_t trailer[RS_TCP_TRAILER_BYTES];
            if (!read_into_spans(fd, *t, off, len, crc) || !read_full(fd, trailer, sizeof(trailer))) {
                report.error = lost(received, size, true);
                break;
            }
            if (le32(trailer) != crc) {
                report.error = "tcp frame at " + std::to_string(off) + ": CRC-32C " + std::to_string(crc) +
                               " of the bytes received, " + std::to_string(le32(trailer)) + " sent";
                break;
            }
            received += len;
            report.frame_offset = off;
            report.frame_length = len;
            report.frame_crc = crc;
            l->progress(report);
        }
        bool cancelled;
        {
            std::lock_guard<std::mutex> g(t->mu);
            t->fd = -1;
            t->io = false;
            cancelled = t->cancelled;
        }
        t->io_done.notify_all();
        if (!report.error.empty() && !cancelled) {
            report.frame_length = 0;
            l->progress(report);
        }
    }
    close(fd);
    t.reset();  // may release the engine hold (after the last byte was written)
    std::lock_guard<std::mutex> g(l->mu);
    l->connections--;
    l->idle.notify_all();
}

void accept_loop(rs_tcp_listener *l) {
    for (;;) {
        const int fd = accept4(l->fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (l->closing.load()) {
            if (fd >= 0) close(fd);
            return;
        }
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE) usleep(10000);
                continue;
            }
            return;
        }
        {
            std::lock_guard<std::mutex> g(l->mu);
            l->connections++;
        }
        std::thread(serve_connection, l, fd).detach();
    }
}

}  // namespace

namespace {

// P's side of the handshake (kv-transfer-auth.h); closes fd and throws when the receiver fails it.
void connect_handshake(int fd, const std::string &where, const std::string &key, const std::string &auth_key,
                       int timeout_ms) {
    set_timeout(fd, SO_RCVTIMEO, timeout_ms);
    uint8_t nonce_d[RS_TCP_NONCE_BYTES], nonce_p[RS_TCP_NONCE_BYTES], mac_d[RS_TCP_MAC_BYTES];
    std::string why;
    if (!read_full(fd, nonce_d, sizeof(nonce_d))) {
        why = errno ? errstr(errno) : "the receiver closed the connection";
    } else {
        rs_random_bytes(nonce_p, sizeof(nonce_p));
        const std::string nd((const char *)nonce_d, sizeof(nonce_d)),
            np((const char *)nonce_p, sizeof(nonce_p));
        const std::string hello = key + np + rs_tcp_handshake_mac(auth_key, 'P', nd, np, key);
        if (!write_full(fd, (const uint8_t *)hello.data(), hello.size())) {
            why = errstr(errno);
        } else if (!read_full(fd, mac_d, sizeof(mac_d))) {
            why = errno ? errstr(errno) : "the receiver refused the cluster secret (connection closed)";
        } else {
            const std::string want = rs_tcp_handshake_mac(auth_key, 'D', nd, np, key);
            if (!rs_mac_equal((const uint8_t *)want.data(), mac_d, sizeof(mac_d)))
                why = "the receiver does not hold the cluster secret";
        }
    }
    if (why.empty()) {
        set_timeout(fd, SO_RCVTIMEO, 0);
        return;
    }
    close(fd);
    RS_CHECK(false, "tcp data plane: authenticating with " + where + " failed: " + why);
}

}  // namespace

rs_tcp_listener *rs_tcp_listen(const std::string &host, int port, const std::string &auth_key,
                               rs_tcp_progress_fn progress) {
    RS_CHECK(port >= 0 && port <= 65535, "tcp data plane: port must be 0..65535");
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo *res = nullptr;
    const int gai =
        getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &res);
    RS_CHECK(gai == 0, "tcp data plane: cannot resolve listen host '" + host + "': " + gai_strerror(gai));
    int fd = -1;
    std::string why = "no address";
    for (addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
        why = errstr(errno);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    RS_CHECK(fd >= 0, "tcp data plane: cannot listen on " + host + ":" + std::to_string(port) + ": " + why);
    sockaddr_storage ss{};
    socklen_t sl = sizeof(ss);
    getsockname(fd, (sockaddr *)&ss, &sl);
    auto *l = new rs_tcp_listener();
    l->fd = fd;
    l->port = ss.ss_family == AF_INET6 ? ntohs(((sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((sockaddr_in *)&ss)->sin_port);
    l->auth_key = auth_key;
    l->progress = std::move(progress);
    l->accept_thread = std::thread(accept_loop, l);
    return l;
}

rs_tcp_transfer::~rs_tcp_transfer() {
    if (engine) rs_kv_transfer_release(engine);
}

namespace {
void add_transfer(rs_tcp_listener *l, const std::shared_ptr<rs_tcp_transfer> &t) {
    std::lock_guard<std::mutex> g(l->mu);
    l->transfers[t->key] = t;
}
}  // namespace

void rs_tcp_expect(rs_tcp_listener *l, const std::string &key, std::shared_ptr<rs_kv_region> region,
                   size_t size) {
    RS_CHECK(key.size() == RS_TCP_KEY_BYTES, "tcp transfer key must be 16 bytes");
    RS_CHECK(size > 0 && size <= region->size, "tcp transfer of " + std::to_string(size) +
                                                   " bytes does not fit its " + std::to_string(region->size) +
                                                   "-byte receive region");
    auto t = std::make_shared<rs_tcp_transfer>();
    t->key = key;
    t->spans.push_back({region->data, size});
    t->size = size;
    t->region = std::move(region);
    add_transfer(l, t);
}

bool rs_tcp_expect_blocks(rs_tcp_listener *l, const std::string &key, rs_engine *e, const int32_t *blocks,
                          int n) {
    RS_CHECK(key.size() == RS_TCP_KEY_BYTES, "tcp transfer key must be 16 bytes");
    RS_CHECK(n > 0, "a tcp transfer needs at least one block");
    auto t = std::make_shared<rs_tcp_transfer>();
    if (!rs_kv_transfer_host_spans(e, blocks, n, t->spans)) return false;
    t->key = key;
    t->size = (size_t)n * e->bytes_per_block;
    rs_kv_transfer_hold(e);
    t->engine = e;
    add_transfer(l, t);
    return true;
}

void rs_tcp_cancel(rs_tcp_listener *l, const std::string &key) {
    std::shared_ptr<rs_tcp_transfer> t;
    {
        std::lock_guard<std::mutex> g(l->mu);
        auto it = l->transfers.find(key);
        if (it == l->transfers.end()) return;
        t = it->second;
        l->transfers.erase(it);
    }
    std::unique_lock<std::mutex> g(t->mu);
    t->cancelled = true;
    if (t->fd >= 0) shutdown(t->fd, SHUT_RDWR);  // wakes the connection thread's recv
    // The thread leaves its recv at once after the shutdown; from then on it writes nothing.
    t->io_done.wait(g, [&] { return !t->io; });
}

void rs_tcp_listener_free(rs_tcp_listener *l) {
    if (!l) return;
    l->closing.store(true);
    shutdown(l->fd, SHUT_RDWR);  // wakes accept()
    if (l->accept_thread.joinable()) l->accept_thread.join();
    close(l->fd);
    std::vector<std::string> keys;
    {
        std::lock_guard<std::mutex> g(l->mu);
        for (auto &kv : l->transfers) keys.push_back(kv.first);
    }
    for (auto &k : keys) rs_tcp_cancel(l, k);
    std::unique_lock<std::mutex> g(l->mu);
    // Connections whose key never arrived end at their 10 s handshake timeout at the latest.
    l->idle.wait(g, [l] { return l->connections == 0; });
    g.unlock();
    delete l;
}

int rs_tcp_connect(const std::string &host, int port, const std::string &key, const std::string &auth_key,
                   int timeout_ms) {
    RS_CHECK(key.size() == RS_TCP_KEY_BYTES, "tcp transfer key must be 16 bytes");
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    const std::string where = host + ":" + std::to_string(port);
    const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    RS_CHECK(gai == 0, "tcp data plane: cannot resolve " + where + ": " + gai_strerror(gai));
    int fd = -1;
    std::string why = "no address";
    for (addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) continue;
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            rc = poll(&p, 1, timeout_ms);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (rc == 0) {
                soerr = ETIMEDOUT;
            } else if (rc > 0) {
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            } else {
                soerr = errno;
            }
            rc = soerr == 0 ? 0 : -1;
            errno = soerr;
        }
        if (rc != 0) {
            why = errstr(errno);
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    RS_CHECK(fd >= 0, "tcp data plane: cannot connect to " + where + ": " + why);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    set_timeout(fd, SO_SNDTIMEO, timeout_ms);
    if (!auth_key.empty()) {
        connect_handshake(fd, where, key, auth_key, timeout_ms);
        return fd;
    }
    size_t sent = 0;
    while (sent < key.size()) {
        const ssize_t w = send(fd, key.data() + sent, key.size() - sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            const int err = errno;
            close(fd);
            RS_CHECK(false,
                     "tcp data plane: sending the transfer key to " + where + " failed: " + errstr(err));
        }
        sent += (size_t)w;
    }
    return fd;
}

namespace {

// Writes all of iov[0..n) (advancing it). Throws rs_error naming the peer problem.
void send_all(int fd, iovec *iov, int n) {
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)n;
    while (m.msg_iovlen > 0) {
        const ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            const int err = errno;
            RS_CHECK(
                false,
                err == EAGAIN || err == EWOULDBLOCK
                    ? std::string("tcp data plane: the receiver accepted no bytes before the send deadline")
                    : "tcp data plane: sending to the receiver failed: " + errstr(err));
        }
        size_t done = (size_t)w;
        while (done > 0 && m.msg_iovlen > 0) {
            if (done >= m.msg_iov[0].iov_len) {
                done -= m.msg_iov[0].iov_len;
                m.msg_iov++;
                m.msg_iovlen--;
            } else {
                m.msg_iov[0].iov_base = (uint8_t *)m.msg_iov[0].iov_base + done;
                m.msg_iov[0].iov_len -= done;
                done = 0;
            }
        }
        while (m.msg_iovlen > 0 && m.msg_iov[0].iov_len == 0) {
            m.msg_iov++;
            m.msg_iovlen--;
        }
    }
}

void frame_header(uint8_t *h, uint64_t offset, uint32_t len) {
    const uint32_t zero = 0;
    std::memcpy(h, &offset, 8);
    std::memcpy(h + 8, &len, 4);
    std::memcpy(h + 12, &zero, 4);
}

}  // namespace

void rs_tcp_send_frame(int fd, uint64_t offset, const uint8_t *data, uint32_t len, uint32_t crc) {
    uint8_t h[RS_TCP_HEADER_BYTES];
    frame_header(h, offset, len);
    iovec iov[3] = {{h, sizeof(h)}, {(void *)data, len}, {&crc, sizeof(crc)}};
    send_all(fd, iov, 3);
}

uint32_t rs_tcp_send_blocks(rs_engine *e, int fd, uint64_t offset, const int32_t *blocks, int n) {
    RS_CHECK(!e->busy.exchange(true), "engine is already running an operation (calls must be queued)");
    struct unbusy {
        rs_engine *e;
        ~unbusy() { e->busy.store(false); }
    } guard{e};
    std::vector<rs_kv_span> spans;
    if (rs_kv_transfer_host_spans(e, blocks, n, spans)) return rs_tcp_send_spans(fd, offset, spans);
    // The pool is not host memory: one block at a time through a host buffer.
    const size_t total = (size_t)n * e->bytes_per_block;
    RS_CHECK(total > 0 && total <= 0xffffffffu, "a tcp frame carries 1 byte to 4 GiB");
    uint8_t h[RS_TCP_HEADER_BYTES];
    frame_header(h, offset, (uint32_t)total);
    iovec head{h, sizeof(h)};
    send_all(fd, &head, 1);
    uint32_t crc = 0;
    std::vector<uint8_t> stage(e->bytes_per_block);
    for (int i = 0; i < n; i++) {
        size_t at = 0;
        for (rs_backend *b : e->ranks) {
            b->iface->kv_export(b, blocks + i, 1, stage.data() + at, e->bytes_per_block);
            at += b->kv_bytes_per_block;
        }
        crc = rs_crc32c(stage.data(), stage.size(), crc);
        iovec v{stage.data(), stage.size()};
        send_all(fd, &v, 1);
    }
    iovec tail{&crc, sizeof(crc)};
    send_all(fd, &tail, 1);
    return crc;
}

uint32_t rs_tcp_send_spans(int fd, uint64_t offset, const std::vector<rs_kv_span> &spans) {
    size_t total = 0;
    for (const rs_kv_span &s : spans) total += s.len;
    RS_CHECK(total > 0 && total <= 0xffffffffu, "a tcp frame carries 1 byte to 4 GiB");
    uint8_t h[RS_TCP_HEADER_BYTES];
    frame_header(h, offset, (uint32_t)total);
    iovec head{h, sizeof(h)};
    send_all(fd, &head, 1);
    // Each shard is checksummed and then handed to the kernel while it is still in cache.
    uint32_t crc = 0;
    for (const rs_kv_span &s : spans) {
        crc = rs_crc32c(s.data, s.len, crc);
        iovec v{s.data, s.len};
        send_all(fd, &v, 1);
    }
    iovec tail{&crc, sizeof(crc)};
    send_all(fd, &tail, 1);
    return crc;
}

void rs_tcp_close(int fd) {
    if (fd >= 0) close(fd);
}

double rs_tcp_raw_loopback(size_t bytes, size_t chunk, bool whole) {
    const int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    RS_CHECK(ls >= 0, "raw loopback: socket: " + errstr(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (bind(ls, (sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (sockaddr *)&a, &al) != 0) {
        const int err = errno;
        close(ls);
        RS_CHECK(false, "raw loopback: " + errstr(err));
    }
    // whole: the bytes come from and land in transfer-sized buffers (memory, as a KV transfer's do);
    // otherwise one chunk-sized buffer each end, reused (stays in cache).
    const size_t span = whole ? bytes : chunk;
    std::vector<uint8_t> src(span, 7), dst(span, 1);
    const auto t0 = std::chrono::steady_clock::now();
    std::thread sender([&] {
        const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s, (sockaddr *)&a, sizeof(a)) == 0) {
            size_t left = bytes;
            while (left > 0) {
                const size_t at = (bytes - left) % span;
                const size_t n = std::min(std::min(left, chunk), span - at);
                const ssize_t w = send(s, src.data() + at, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) break;
                left -= (size_t)w;
            }
        }
        close(s);
    });
    const int c = accept(ls, nullptr, nullptr);
    size_t got = 0;
    while (c >= 0) {
        const size_t at = got % span;
        const ssize_t r = recv(c, dst.data() + at, std::min(chunk, span - at), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sender.join();
    if (c >= 0) close(c);
    close(ls);
    RS_CHECK(got == bytes,
             "raw loopback moved " + std::to_string(got) + " of " + std::to_string(bytes) + " bytes");
    return secs;
}
