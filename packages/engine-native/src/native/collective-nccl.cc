// The NCCL collective (RCCL exposes the same C API on AMD GPUs), loaded at run time with dlopen so
// that a CPU build links neither library and needs no NCCL headers: the handful of types and entry
// points used are declared here with the ABI of nccl.h (NCCL 2.x).
//
// One process drives every GPU of the tensor-parallel group: one rank thread per device, one
// communicator per rank from ncclCommInitAll. Buffers are device pointers; collectives are
// stream-ordered on the stream the backend registered for the rank (the set_stream call),
// so "complete" means "ordered before the next kernel on that stream". barrier() is a host barrier
// between the rank threads (they share the process).
//
// Multi-node TP would instead call ncclGetUniqueId on rank 0, publish the 128-byte id (e.g. in Redis
// under the worker group's key), and ncclCommInitRank on every process: see the README; not built.
#include <dlfcn.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "collective.h"
#include "common.h"

namespace {

typedef struct nccl_comm *nccl_comm_t;  // ncclComm_t
typedef int nccl_result_t;              // ncclResult_t: 0 = ncclSuccess
const int k_nccl_uint8 = 1;             // ncclUint8
const int k_nccl_float32 = 7;           // ncclFloat32
const int k_nccl_sum = 0;               // ncclSum

struct nccl_api {
    void *lib = nullptr;
    std::string path;
    nccl_result_t (*comm_init_all)(nccl_comm_t *comms, int ndev, const int *devlist) = nullptr;
    nccl_result_t (*all_reduce)(const void *send, void *recv, size_t count, int dtype, int op,
                                nccl_comm_t comm, void *stream) = nullptr;
    nccl_result_t (*broadcast)(const void *send, void *recv, size_t count, int dtype, int root,
                               nccl_comm_t comm, void *stream) = nullptr;
    nccl_result_t (*comm_destroy)(nccl_comm_t comm) = nullptr;
    nccl_result_t (*comm_abort)(nccl_comm_t comm) = nullptr;
    const char *(*get_error_string)(nccl_result_t r) = nullptr;
};

struct nccl_collective {
    nccl_api api;
    std::vector<nccl_comm_t> comms;  // [n_ranks]
    std::vector<void *> streams;     // [n_ranks] cudaStream_t (nullptr = the legacy default stream)
    // Host barrier between the rank threads.
    std::mutex mutex;
    std::condition_variable cv;
    int count = 0;
    uint64_t gen = 0;
    bool aborted = false;
};

nccl_collective *ctx_of(rs_collective *c) {
    return (nccl_collective *)c->context;
}

// ncclCheck in llm.c's spirit: file, line, NCCL's own message, and what to try.
void nccl_check(const nccl_api &api, nccl_result_t r, const char *what, const char *file, int line) {
    if (r == 0) return;
    const char *msg = api.get_error_string ? api.get_error_string(r) : "unknown error";
    rs_fail(file, line,
            std::string(what) + " failed: " + msg + " (NCCL_DEBUG=INFO shows why; " + api.path + ")");
}
#define RS_NCCL_CHECK(api, call, what) nccl_check((api), (call), (what), __FILE__, __LINE__)

template <typename F>
void load_symbol(nccl_api &api, F &fn, const char *name) {
    fn = (F)dlsym(api.lib, name);
    RS_CHECK(fn != nullptr, api.path + " has no symbol " + name + " (is it NCCL/RCCL 2.x?)");
}

void nccl_all_reduce_sum(rs_collective *c, int rank, float *data, size_t n) {
    nccl_collective *nc = ctx_of(c);
    if (nc->aborted) throw rs_collective_aborted();
    RS_NCCL_CHECK(
        nc->api,
        nc->api.all_reduce(data, data, n, k_nccl_float32, k_nccl_sum, nc->comms[rank], nc->streams[rank]),
        "ncclAllReduce");
}

void nccl_broadcast(rs_collective *c, int rank, void *data, size_t bytes, int root) {
    nccl_collective *nc = ctx_of(c);
    if (nc->aborted) throw rs_collective_aborted();
    RS_NCCL_CHECK(
        nc->api, nc->api.broadcast(data, data, bytes, k_nccl_uint8, root, nc->comms[rank], nc->streams[rank]),
        "ncclBroadcast");
}

void nccl_barrier(rs_collective *c, int) {
    nccl_collective *nc = ctx_of(c);
    std::unique_lock<std::mutex> lock(nc->mutex);
    if (nc->aborted) throw rs_collective_aborted();
    const uint64_t g = nc->gen;
    if (++nc->count == c->n_ranks) {
        nc->count = 0;
        nc->gen++;
        nc->cv.notify_all();
        return;
    }
    nc->cv.wait(lock, [&] { return nc->gen != g || nc->aborted; });
    if (nc->aborted) throw rs_collective_aborted();
}

void nccl_set_stream(rs_collective *c, int rank, void *stream) {
    ctx_of(c)->streams[(size_t)rank] = stream;
}

void nccl_abort(rs_collective *c) {
    nccl_collective *nc = ctx_of(c);
    {
        std::lock_guard<std::mutex> lock(nc->mutex);
        nc->aborted = true;
    }
    nc->cv.notify_all();
    // Unblocks ranks stuck inside an NCCL kernel; the communicators are unusable afterwards.
    for (auto &comm : nc->comms)
        if (comm) nc->api.comm_abort(comm);
    nc->comms.assign(nc->comms.size(), nullptr);
}

void nccl_reset(rs_collective *c) {
    nccl_collective *nc = ctx_of(c);
    std::lock_guard<std::mutex> lock(nc->mutex);
    nc->count = 0;
    if (!nc->aborted) return;
    std::vector<int> devs((size_t)c->n_ranks);
    for (int i = 0; i < c->n_ranks; i++) devs[(size_t)i] = i;
    RS_NCCL_CHECK(nc->api, nc->api.comm_init_all(nc->comms.data(), c->n_ranks, devs.data()),
                  "ncclCommInitAll");
    nc->aborted = false;
}

void nccl_free(rs_collective *c) {
    nccl_collective *nc = ctx_of(c);
    for (auto &comm : nc->comms)
        if (comm) nc->api.comm_destroy(comm);
    if (nc->api.lib) dlclose(nc->api.lib);
    delete nc;
    delete c;
}

const rs_collective_i nccl_iface = {
    "nccl",          nccl_all_reduce_sum, nccl_broadcast, nccl_barrier,
    nccl_set_stream, nccl_abort,          nccl_reset,     nccl_free,
};

}  // namespace

rs_collective *rs_collective_nccl_init(int n_ranks, const std::string &library) {
    RS_CHECK(n_ranks >= 1, "collective needs at least one rank");
    std::unique_ptr<nccl_collective> nc(new nccl_collective());
    const std::vector<std::string> candidates = library.empty()
                                                    ? std::vector<std::string>{"libnccl.so.2", "librccl.so.1"}
                                                    : std::vector<std::string>{library};
    std::string errors;
    for (const auto &name : candidates) {
        nc->api.lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (nc->api.lib) {
            nc->api.path = name;
            break;
        }
        const char *err = dlerror();
        errors += (errors.empty() ? "" : "; ") + std::string(err ? err : name);
    }
    RS_CHECK(nc->api.lib != nullptr, "collective 'nccl' needs NCCL (libnccl.so.2) or RCCL (librccl.so.1): " +
                                         errors + "; install NCCL or use collective 'cpu'");
    try {
        load_symbol(nc->api, nc->api.comm_init_all, "ncclCommInitAll");
        load_symbol(nc->api, nc->api.all_reduce, "ncclAllReduce");
        load_symbol(nc->api, nc->api.broadcast, "ncclBroadcast");
        load_symbol(nc->api, nc->api.comm_destroy, "ncclCommDestroy");
        load_symbol(nc->api, nc->api.comm_abort, "ncclCommAbort");
        load_symbol(nc->api, nc->api.get_error_string, "ncclGetErrorString");
        nc->comms.assign((size_t)n_ranks, nullptr);
        nc->streams.assign((size_t)n_ranks, nullptr);
        std::vector<int> devs((size_t)n_ranks);
        for (int i = 0; i < n_ranks; i++) devs[(size_t)i] = i;
        RS_NCCL_CHECK(nc->api, nc->api.comm_init_all(nc->comms.data(), n_ranks, devs.data()),
                      "ncclCommInitAll");
    } catch (...) {
        dlclose(nc->api.lib);
        throw;
    }
    auto *c = new rs_collective();
    c->iface = &nccl_iface;
    c->context = nc.release();
    c->n_ranks = n_ranks;
    return c;
}
