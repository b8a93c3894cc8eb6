// The CPU backend: one rank's model, KV pool (host memory) and thread pool, running forward.cc.
#include <dlfcn.h>

#include "backend.h"

namespace {

struct cpu_backend {
    rs_model *model = nullptr;
    rs_kv_pool *kv = nullptr;
    rs_thread_pool *pool = nullptr;
    const rs_kernels_i *kernels = nullptr;
    rs_forward_scratch scratch;
};

cpu_backend *ctx_of(rs_backend *b) {
    return (cpu_backend *)b->context;
}

void cpu_forward(rs_backend *b, const std::vector<rs_batch_seq> &batch, const std::vector<int> &logit_rows,
                 float *logits, rs_collective *coll, int rank) {
    cpu_backend *c = ctx_of(b);
    rs_forward(*c->model, *c->kv, *c->kernels, c->pool, c->scratch, batch, logit_rows, logits, coll, rank);
}

void cpu_kv_export(rs_backend *b, const int32_t *blocks, int n, uint8_t *base, size_t stride) {
    for (int i = 0; i < n; i++) rs_kv_pool_export(ctx_of(b)->kv, blocks + i, 1, base + (size_t)i * stride);
}

void cpu_kv_import(rs_backend *b, const int32_t *blocks, int n, const uint8_t *base, size_t stride) {
    for (int i = 0; i < n; i++) rs_kv_pool_import(ctx_of(b)->kv, blocks + i, 1, base + (size_t)i * stride);
}

void cpu_kv_copy(rs_backend *b, const int32_t *src, const int32_t *dst, int n) {
    rs_kv_pool_copy(ctx_of(b)->kv, src, dst, n);
}

void cpu_free(rs_backend *b) {
    if (!b) return;
    cpu_backend *c = ctx_of(b);
    if (c) {
        rs_thread_pool_free(c->pool);
        rs_kv_pool_free(c->kv);
        rs_model_free(c->model);
        delete c;
    }
    delete b;
}

uint8_t *cpu_kv_block_data(rs_backend *b, int32_t block) {
    rs_kv_pool *kv = ctx_of(b)->kv;
    return kv->data + (size_t)block * kv->bytes_per_block;
}

const rs_backend_i cpu_iface = {"cpu",       cpu_forward, cpu_kv_export,    cpu_kv_import,
                                cpu_kv_copy, cpu_free,    cpu_kv_block_data};

}  // namespace

rs_backend *rs_backend_cpu_init(const rs_backend_params &p) {
    auto *b = new rs_backend();
    auto *c = new cpu_backend();
    b->iface = &cpu_iface;
    b->context = c;
    c->model = p.model;
    c->kernels = p.kernels;
    try {
        c->kv = rs_kv_pool_init(p.kv_dtype, p.num_blocks, p.block_size, p.model->cfg.n_layers,
                                p.model->n_kv_heads, p.model->cfg.head_dim, p.kv_shm_path);
        c->pool = rs_thread_pool_init(p.n_threads);
    } catch (...) {
        cpu_free(b);
        throw;
    }
    b->kv_bytes_per_block = c->kv->bytes_per_block;
    b->weight_bytes = c->model->store->bytes;
    b->n_threads = c->pool->n_threads;
    b->kv_shared_path = c->kv->shm_path;
    return b;
}

rs_cuda_library rs_cuda_library_load(const std::string &path, int n_devices) {
    rs_cuda_library l;
    l.lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!l.lib) {
        const char *err = dlerror();
        RS_CHECK(false, "backend 'cuda' is not built here (" + std::string(err ? err : path) +
                            "): build it with node scripts/build-cuda.mjs where a CUDA toolkit exists");
    }
    l.init = (rs_backend_cuda_init_fn)dlsym(l.lib, RS_BACKEND_CUDA_INIT_SYMBOL);
    l.device_count = (rs_backend_cuda_device_count_fn)dlsym(l.lib, RS_BACKEND_CUDA_DEVICE_COUNT_SYMBOL);
    if (!l.init || !l.device_count) {
        dlclose(l.lib);
        RS_CHECK(false, path + " is not a RadixServe CUDA backend (missing entry points)");
    }
    char err[512] = {0};
    const int visible = l.device_count(err, sizeof err);
    if (visible < n_devices) {
        dlclose(l.lib);
        RS_CHECK(visible >= 0, std::string("CUDA is not usable: ") + err);
        RS_CHECK(false, "--tp " + std::to_string(n_devices) + " needs " + std::to_string(n_devices) +
                            " CUDA devices, " + std::to_string(visible) +
                            " visible (check CUDA_VISIBLE_DEVICES or lower --tp)");
    }
    return l;
}
