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

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "common.h"

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

// One data connection: key, then frames into the transfer's region until it is full.
void serve_connection(rs_tcp_listener *l, int fd) {
    rs_tcp_progress report;
    std::shared_ptr<rs_tcp_transfer> t;
    uint8_t key[RS_TCP_KEY_BYTES];
    set_timeout(fd, SO_RCVTIMEO, 10000);  // the key must come promptly; frames then wait for P freely
    if (read_full(fd, key, sizeof(key))) {
        std::lock_guard<std::mutex> g(l->mu);
        auto it = l->transfers.find(std::string((const char *)key, sizeof(key)));
        if (it != l->transfers.end()) t = it->second;
    }
    if (t) {
        {
            std::lock_guard<std::mutex> g(t->mu);
            if (t->cancelled || t->connected)
                t.reset();  // late, or a second connection for one key
            else {
                t->fd = fd;
                t->connected = true;
            }
        }
    }
    if (t) {
        set_timeout(fd, SO_RCVTIMEO, 0);
        report.key = t->key;
        uint8_t *const data = t->region->data;
        const uint64_t size = t->size;
        uint64_t received = 0;
        uint8_t h[RS_TCP_HEADER_BYTES];
        while (received < size) {
            if (!read_full(fd, h, sizeof(h))) {
                report.error = errno
                                   ? "tcp data connection failed: " + errstr(errno)
                                   : "tcp data connection closed by the sender after " +
                                         std::to_string(received) + " of " + std::to_string(size) + " bytes";
                break;
            }
            const uint64_t off = le64(h);
            const uint32_t len = le32(h + 8);
            if (off != received || len == 0 || len > size - off) {
                report.error = "tcp frame at " + std::to_string(off) + " (+" + std::to_string(len) +
                               ") is out of order or outside the " + std::to_string(size) + "-byte transfer";
                break;
            }
            if (!read_full(fd, data + off, len)) {
                report.error = errno ? "tcp data connection failed: " + errstr(errno)
                                     : "tcp data connection closed by the sender inside a frame at " +
                                           std::to_string(off);
                break;
            }
            received += len;
            report.frame_offset = off;
            report.frame_length = len;
            report.frame_crc = le32(h + 12);
            l->progress(report);
        }
        bool cancelled;
        {
            std::lock_guard<std::mutex> g(t->mu);
            t->fd = -1;
            cancelled = t->cancelled;
        }
        if (!report.error.empty() && !cancelled) {
            report.frame_length = 0;
            l->progress(report);
        }
    }
    close(fd);
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

rs_tcp_listener *rs_tcp_listen(const std::string &host, rs_tcp_progress_fn progress) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo *res = nullptr;
    const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), "0", &hints, &res);
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
    RS_CHECK(fd >= 0, "tcp data plane: cannot listen on " + host + ": " + why);
    sockaddr_storage ss{};
    socklen_t sl = sizeof(ss);
    getsockname(fd, (sockaddr *)&ss, &sl);
    auto *l = new rs_tcp_listener();
    l->fd = fd;
    l->port = ss.ss_family == AF_INET6 ? ntohs(((sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((sockaddr_in *)&ss)->sin_port);
    l->progress = std::move(progress);
    l->accept_thread = std::thread(accept_loop, l);
    return l;
}

void rs_tcp_expect(rs_tcp_listener *l, const std::string &key, std::shared_ptr<rs_kv_region> region,
                   size_t size) {
    RS_CHECK(key.size() == RS_TCP_KEY_BYTES, "tcp transfer key must be 16 bytes");
    RS_CHECK(size > 0 && size <= region->size, "tcp transfer of " + std::to_string(size) +
                                                   " bytes does not fit its " + std::to_string(region->size) +
                                                   "-byte receive region");
    auto t = std::make_shared<rs_tcp_transfer>();
    t->key = key;
    t->region = std::move(region);
    t->size = size;
    std::lock_guard<std::mutex> g(l->mu);
    l->transfers[key] = t;
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
    std::lock_guard<std::mutex> g(t->mu);
    t->cancelled = true;
    if (t->fd >= 0) shutdown(t->fd, SHUT_RDWR);  // wakes the connection thread's recv
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

int rs_tcp_connect(const std::string &host, int port, const std::string &key, int timeout_ms) {
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

void rs_tcp_send_frame(int fd, uint64_t offset, const uint8_t *data, uint32_t len, uint32_t crc) {
    uint8_t h[RS_TCP_HEADER_BYTES];
    std::memcpy(h, &offset, 8);
    std::memcpy(h + 8, &len, 4);
    std::memcpy(h + 12, &crc, 4);
    iovec iov[2] = {{h, sizeof(h)}, {(void *)data, len}};
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    size_t left = sizeof(h) + len;
    while (left > 0) {
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
        left -= (size_t)w;
        size_t n = (size_t)w;
        while (n > 0 && m.msg_iovlen > 0) {
            if (n >= m.msg_iov[0].iov_len) {
                n -= m.msg_iov[0].iov_len;
                m.msg_iov++;
                m.msg_iovlen--;
            } else {
                m.msg_iov[0].iov_base = (uint8_t *)m.msg_iov[0].iov_base + n;
                m.msg_iov[0].iov_len -= n;
                n = 0;
            }
        }
    }
}

void rs_tcp_close(int fd) {
    if (fd >= 0) close(fd);
}

double rs_tcp_raw_loopback(size_t bytes, size_t chunk) {
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
    std::vector<uint8_t> src(chunk, 7), dst(chunk);
    const auto t0 = std::chrono::steady_clock::now();
    std::thread sender([&] {
        const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s, (sockaddr *)&a, sizeof(a)) == 0) {
            size_t left = bytes;
            while (left > 0) {
                const ssize_t w = send(s, src.data(), left < chunk ? left : chunk, MSG_NOSIGNAL);
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
        const ssize_t r = recv(c, dst.data(), chunk, 0);
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
