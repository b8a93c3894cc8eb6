// The CUDA backend: one tensor-parallel rank on one device, behind rs_backend_i (backend.h).
// Built into its own shared library (scripts/build-cuda.mjs) only where a CUDA toolkit exists; the
// engine loads it with dlopen, so the CPU addon links no CUDA library.
//
// - Weights: this rank's slice, widened to f32 on upload (simple and exact against the CPU pass;
//   2-byte weights on the device with cublasGemmEx are the next step). Norms, biases, inv_freq too.
// - KV pool: f32, the CPU layout [block][layer][k|v][kv_head][slot][head_dim] in device memory, so an
//   exported block is byte-compatible with a CPU engine's.
// - GEMMs: cublasSgemm (row-major y[T, N] = x[T, K] . W[N, K]^T is column-major y^T = W^T x^T).
// - Logits: this rank's vocab slice copied to the host buffer; sampling stays on the CPU (engine.cc).
// - Export/import: through a pinned host staging buffer.
//
// UNVERIFIED: compiled here (compile-only CI), never run on a GPU yet. test/gpu/run is the suite.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../backend.h"
#include "kernels-cuda.cuh"

namespace {

// cudaCheck in llm.c's spirit: where, what CUDA said, and (for memory) which flag to lower.
void cuda_check(cudaError_t e, const char *what, const char *file, int line) {
    if (e == cudaSuccess) return;
    std::string msg = std::string(what) + ": " + cudaGetErrorString(e);
    if (e == cudaErrorMemoryAllocation)
        msg +=
            " (out of device memory: lower --kv-cache-blocks or --mem-fraction-static, or raise --tp to "
            "spread the weights)";
    rs_fail(file, line, msg);
}
#define RS_CUDA_CHECK(call, what) cuda_check((call), (what), __FILE__, __LINE__)

void cublas_check(cublasStatus_t st, const char *what, const char *file, int line) {
    if (st == CUBLAS_STATUS_SUCCESS) return;
    rs_fail(file, line, std::string(what) + " failed: cuBLAS status " + std::to_string((int)st));
}
#define RS_CUBLAS_CHECK(call, what) cublas_check((call), (what), __FILE__, __LINE__)

// A device buffer that grows (never shrinks) and frees itself.
template <typename T>
struct dev_buffer {
    T *ptr = nullptr;
    size_t n = 0;
    int device = 0;
    void reserve(size_t want, const char *what) {
        if (want <= n) return;
        if (ptr) cudaFree(ptr);
        ptr = nullptr;
        n = 0;
        const cudaError_t e = cudaMalloc(&ptr, want * sizeof(T));
        if (e != cudaSuccess) {
            char buf[256];
            std::snprintf(buf, sizeof buf, "device %d: allocating %.1f MiB for %s", device,
                          (double)(want * sizeof(T)) / (1024.0 * 1024.0), what);
            RS_CUDA_CHECK(e, buf);
        }
        n = want;
    }
    ~dev_buffer() {
        if (ptr) cudaFree(ptr);
    }
};

struct cuda_layer {
    dev_buffer<float> wq, wk, wv, wo, w_gate, w_up, w_down, attn_norm, ffn_norm;
    dev_buffer<float> bq, bk, bv, bo, b_gate, b_up, b_down;  // n = 0 when absent
};

struct cuda_backend {
    int device = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    rs_model_config cfg;
    int n_heads = 0, n_kv = 0, q_dim = 0, kv_dim = 0, inter = 0;
    int num_blocks = 0, block_size = 0;
    size_t block_floats = 0;  // floats in this rank's shard of one block
    dev_buffer<float> embed, lm_head, final_norm, inv_freq;
    std::vector<std::unique_ptr<cuda_layer>> layers;
    dev_buffer<float> pool;
    // Step scratch (device), see forward() for shapes.
    dev_buffer<float> x, xn, q, k, v, att, gate, up, part, xf, logits;
    dev_buffer<int32_t> meta;  // the step metadata, one upload: see forward()
    // Pinned host staging for the step metadata and block export/import.
    int32_t *meta_host = nullptr;
    size_t meta_cap = 0;
    uint8_t *stage = nullptr;
    size_t stage_cap = 0;
};

cuda_backend *ctx_of(rs_backend *b) {
    return (cuda_backend *)b->context;
}

// Uploads one host weight (any dtype) as f32. (Only header-inline helpers are used here: this library
// must not need symbols of the addon that loads it.)
void upload(dev_buffer<float> &dst, const rs_weight *w, int device, const char *what) {
    if (!w) return;
    std::vector<float> f((size_t)(w->rows * w->cols));
    for (size_t i = 0; i < f.size(); i++) f[i] = rs_load_f32(w->data, w->dtype, i);
    dst.device = device;
    dst.reserve(f.size(), what);
    RS_CUDA_CHECK(cudaMemcpy(dst.ptr, f.data(), f.size() * sizeof(float), cudaMemcpyHostToDevice), what);
}

void upload_vec(dev_buffer<float> &dst, const std::vector<float> &f, int device, const char *what) {
    if (f.empty()) return;
    dst.device = device;
    dst.reserve(f.size(), what);
    RS_CUDA_CHECK(cudaMemcpy(dst.ptr, f.data(), f.size() * sizeof(float), cudaMemcpyHostToDevice), what);
}

void ensure_pinned_meta(cuda_backend *c, size_t n) {
    if (n <= c->meta_cap) return;
    if (c->meta_host) cudaFreeHost(c->meta_host);
    c->meta_host = nullptr;
    RS_CUDA_CHECK(cudaMallocHost(&c->meta_host, n * sizeof(int32_t)), "pinned step metadata");
    c->meta_cap = n;
}

void ensure_stage(cuda_backend *c, size_t bytes) {
    if (bytes <= c->stage_cap) return;
    if (c->stage) cudaFreeHost(c->stage);
    c->stage = nullptr;
    RS_CUDA_CHECK(cudaMallocHost(&c->stage, bytes), "pinned KV staging buffer");
    c->stage_cap = bytes;
}

// y[T, N] = x[T, K] . W[N, K]^T (+ beta * y), W rows [r0, r0 + N) of a [*, K] matrix, ldy = row stride of y.
void gemm(cuda_backend *c, const float *x, int T, int K, const float *w, int N, float *y, int ldy,
          float beta) {
    const float one = 1.0f;
    RS_CUBLAS_CHECK(
        cublasSgemm(c->cublas, CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &one, w, K, x, K, &beta, y, ldy),
        "cublasSgemm");
}

void cuda_forward(rs_backend *b, const std::vector<rs_batch_seq> &batch, const std::vector<int> &logit_rows,
                  float *logits, rs_collective *coll, int rank) {
    cuda_backend *c = ctx_of(b);
    RS_CUDA_CHECK(cudaSetDevice(c->device), "cudaSetDevice");  // rank threads are new every step
    const rs_model_config &cfg = c->cfg;
    const int hidden = cfg.hidden_size, hd = cfg.head_dim, bs = c->block_size;
    const int n_ranks = coll ? coll->n_ranks : 1;
    const bool tp = n_ranks > 1;
    if (tp) coll->iface->set_stream(coll, rank, (void *)c->stream);
    cudaStream_t s = c->stream;

    // Step metadata in one pinned buffer: tok[T] pos[T] seq_of[T] table_off[S] tables[sum] rows[R].
    int T = 0, n_table = 0;
    for (const auto &q : batch) {
        RS_CHECK(q.start_pos >= 0 && q.start_pos + q.n_tokens <= cfg.max_position_embeddings,
                 "positions past the model's context length");
        RS_CHECK((int64_t)q.n_blocks * bs >= (int64_t)q.start_pos + q.n_tokens,
                 "block table does not cover the sequence's positions");
        T += q.n_tokens;
        n_table += q.n_blocks;
    }
    const int S = (int)batch.size();
    const int R = (int)logit_rows.size();
    ensure_pinned_meta(c, (size_t)3 * T + S + n_table + R);
    int32_t *h_tok = c->meta_host, *h_pos = h_tok + T, *h_seq = h_pos + T, *h_off = h_seq + T;
    int32_t *h_tab = h_off + S, *h_rows = h_tab + n_table;
    {
        int t = 0, off = 0;
        for (int i = 0; i < S; i++) {
            const rs_batch_seq &q = batch[(size_t)i];
            h_off[i] = off;
            for (int j = 0; j < q.n_blocks; j++) {
                RS_CHECK(q.block_table[j] >= 0 && q.block_table[j] < c->num_blocks, "block id out of range");
                h_tab[off + j] = q.block_table[j];
            }
            off += q.n_blocks;
            for (int j = 0; j < q.n_tokens; j++, t++) {
                RS_CHECK(q.tokens[j] >= 0 && q.tokens[j] < cfg.vocab_size, "token id out of range");
                h_tok[t] = q.tokens[j];
                h_pos[t] = q.start_pos + j;
                h_seq[t] = i;
            }
        }
        for (int r = 0; r < R; r++) h_rows[r] = logit_rows[(size_t)r];
    }
    c->meta.reserve((size_t)3 * T + S + n_table + R + 1, "step metadata");
    RS_CUDA_CHECK(cudaMemcpyAsync(c->meta.ptr, h_tok, ((size_t)3 * T + S + n_table + R) * sizeof(int32_t),
                                  cudaMemcpyHostToDevice, s),
                  "step metadata upload");
    const int32_t *d_tok = c->meta.ptr, *d_pos = d_tok + T, *d_seq = d_pos + T, *d_off = d_seq + T;
    const int32_t *d_tab = d_off + S, *d_rows = d_tab + n_table;

    c->x.reserve((size_t)T * hidden, "activations");             // [T, hidden] residual stream
    c->xn.reserve((size_t)T * hidden, "activations");            // [T, hidden]
    c->q.reserve((size_t)T * c->q_dim, "activations");           // [T, n_heads * hd]
    c->k.reserve((size_t)T * c->kv_dim, "activations");          // [T, n_kv * hd]
    c->v.reserve((size_t)T * c->kv_dim, "activations");          // [T, n_kv * hd]
    c->att.reserve((size_t)T * c->q_dim, "activations");         // [T, n_heads * hd]
    c->gate.reserve((size_t)T * c->inter, "activations");        // [T, inter]
    c->up.reserve((size_t)T * c->inter, "activations");          // [T, inter]
    if (tp) c->part.reserve((size_t)T * hidden, "activations");  // [T, hidden]

    rs_cuda_embed(c->embed.ptr, d_tok, c->x.ptr, T, hidden, s);
    const float scale = 1.0f / std::sqrt((float)hd);
    // Row-split projection: x += in . W^T (+ bias on rank 0); with TP through `part` and an all-reduce.
    auto row_split = [&](const float *in, int in_dim, const dev_buffer<float> &w,
                         const dev_buffer<float> &bias) {
        float *dst = tp ? c->part.ptr : c->x.ptr;
        gemm(c, in, T, in_dim, w.ptr, hidden, dst, hidden, tp ? 0.0f : 1.0f);
        if (bias.n) rs_cuda_add_bias(dst, bias.ptr, T, hidden, s);
        if (!tp) return;
        coll->iface->all_reduce_sum(coll, rank, c->part.ptr, (size_t)T * hidden);
        rs_cuda_add(c->x.ptr, c->part.ptr, (size_t)T * hidden, s);
    };
    for (int l = 0; l < cfg.n_layers; l++) {
        const cuda_layer &L = *c->layers[(size_t)l];
        rs_cuda_rmsnorm(c->x.ptr, L.attn_norm.ptr, c->xn.ptr, T, hidden, cfg.rms_norm_eps, s);
        gemm(c, c->xn.ptr, T, hidden, L.wq.ptr, c->q_dim, c->q.ptr, c->q_dim, 0.0f);
        gemm(c, c->xn.ptr, T, hidden, L.wk.ptr, c->kv_dim, c->k.ptr, c->kv_dim, 0.0f);
        gemm(c, c->xn.ptr, T, hidden, L.wv.ptr, c->kv_dim, c->v.ptr, c->kv_dim, 0.0f);
        if (L.bq.n) rs_cuda_add_bias(c->q.ptr, L.bq.ptr, T, c->q_dim, s);
        if (L.bk.n) rs_cuda_add_bias(c->k.ptr, L.bk.ptr, T, c->kv_dim, s);
        if (L.bv.n) rs_cuda_add_bias(c->v.ptr, L.bv.ptr, T, c->kv_dim, s);
        rs_cuda_rope(c->q.ptr, d_pos, c->inv_freq.ptr, T, c->n_heads, hd, s);
        rs_cuda_rope(c->k.ptr, d_pos, c->inv_freq.ptr, T, c->n_kv, hd, s);
        rs_cuda_kv_store(c->pool.ptr, c->k.ptr, c->v.ptr, d_pos, d_seq, d_tab, d_off, T, l, cfg.n_layers,
                         c->n_kv, hd, bs, s);
        rs_cuda_attention(c->q.ptr, c->pool.ptr, c->att.ptr, d_pos, d_seq, d_tab, d_off, T, l, cfg.n_layers,
                          c->n_heads, c->n_kv, hd, bs, scale, s);
        row_split(c->att.ptr, c->q_dim, L.wo, L.bo);

        rs_cuda_rmsnorm(c->x.ptr, L.ffn_norm.ptr, c->xn.ptr, T, hidden, cfg.rms_norm_eps, s);
        gemm(c, c->xn.ptr, T, hidden, L.w_gate.ptr, c->inter, c->gate.ptr, c->inter, 0.0f);
        gemm(c, c->xn.ptr, T, hidden, L.w_up.ptr, c->inter, c->up.ptr, c->inter, 0.0f);
        if (L.b_gate.n) rs_cuda_add_bias(c->gate.ptr, L.b_gate.ptr, T, c->inter, s);
        if (L.b_up.n) rs_cuda_add_bias(c->up.ptr, L.b_up.ptr, T, c->inter, s);
        rs_cuda_silu_mul(c->gate.ptr, c->up.ptr, (size_t)T * c->inter, s);
        row_split(c->gate.ptr, c->inter, L.w_down, L.b_down);
    }
    RS_CUDA_CHECK(cudaGetLastError(), "kernel launch");
    if (R > 0) {
        // Final norm on the rows that need logits, then this rank's vocab slice [v0, v1) of the LM head.
        c->xf.reserve((size_t)R * hidden, "activations");         // [R, hidden]
        c->logits.reserve((size_t)R * cfg.vocab_size, "logits");  // [R, vocab]
        rs_cuda_gather_rows(c->x.ptr, d_rows, c->xn.ptr, R, hidden, s);
        rs_cuda_rmsnorm(c->xn.ptr, c->final_norm.ptr, c->xf.ptr, R, hidden, cfg.rms_norm_eps, s);
        const int v0 = (int)((int64_t)cfg.vocab_size * rank / n_ranks);
        const int v1 = (int)((int64_t)cfg.vocab_size * (rank + 1) / n_ranks);
        gemm(c, c->xf.ptr, R, hidden, c->lm_head.ptr + (size_t)v0 * hidden, v1 - v0, c->logits.ptr + v0,
             cfg.vocab_size, 0.0f);
        const size_t pitch = (size_t)cfg.vocab_size * sizeof(float);
        RS_CUDA_CHECK(
            cudaMemcpy2DAsync(logits + v0, pitch, c->logits.ptr + v0, pitch,
                              (size_t)(v1 - v0) * sizeof(float), (size_t)R, cudaMemcpyDeviceToHost, s),
            "logits copy to host");
    }
    RS_CUDA_CHECK(cudaStreamSynchronize(s), "step");
}

void cuda_kv_export(rs_backend *b, const int32_t *blocks, int n, uint8_t *base, size_t stride) {
    cuda_backend *c = ctx_of(b);
    RS_CUDA_CHECK(cudaSetDevice(c->device), "cudaSetDevice");
    const size_t bytes = c->block_floats * sizeof(float);
    ensure_stage(c, bytes * (size_t)n);
    for (int i = 0; i < n; i++)
        RS_CUDA_CHECK(
            cudaMemcpyAsync(c->stage + (size_t)i * bytes, c->pool.ptr + (size_t)blocks[i] * c->block_floats,
                            bytes, cudaMemcpyDeviceToHost, c->stream),
            "KV export");
    RS_CUDA_CHECK(cudaStreamSynchronize(c->stream), "KV export");
    for (int i = 0; i < n; i++) std::memcpy(base + (size_t)i * stride, c->stage + (size_t)i * bytes, bytes);
}

void cuda_kv_import(rs_backend *b, const int32_t *blocks, int n, const uint8_t *base, size_t stride) {
    cuda_backend *c = ctx_of(b);
    RS_CUDA_CHECK(cudaSetDevice(c->device), "cudaSetDevice");
    const size_t bytes = c->block_floats * sizeof(float);
    ensure_stage(c, bytes * (size_t)n);
    for (int i = 0; i < n; i++) std::memcpy(c->stage + (size_t)i * bytes, base + (size_t)i * stride, bytes);
    for (int i = 0; i < n; i++)
        RS_CUDA_CHECK(cudaMemcpyAsync(c->pool.ptr + (size_t)blocks[i] * c->block_floats,
                                      c->stage + (size_t)i * bytes, bytes, cudaMemcpyHostToDevice, c->stream),
                      "KV import");
    RS_CUDA_CHECK(cudaStreamSynchronize(c->stream), "KV import");
}

void cuda_kv_copy(rs_backend *b, const int32_t *src, const int32_t *dst, int n) {
    cuda_backend *c = ctx_of(b);
    RS_CUDA_CHECK(cudaSetDevice(c->device), "cudaSetDevice");
    const size_t bytes = c->block_floats * sizeof(float);
    for (int i = 0; i < n; i++) {
        if (src[i] == dst[i]) continue;
        RS_CUDA_CHECK(cudaMemcpyAsync(c->pool.ptr + (size_t)dst[i] * c->block_floats,
                                      c->pool.ptr + (size_t)src[i] * c->block_floats, bytes,
                                      cudaMemcpyDeviceToDevice, c->stream),
                      "KV block copy");
    }
    RS_CUDA_CHECK(cudaStreamSynchronize(c->stream), "KV block copy");
}

void cuda_free(rs_backend *b) {
    if (!b) return;
    cuda_backend *c = ctx_of(b);
    if (c) {
        cudaSetDevice(c->device);
        if (c->meta_host) cudaFreeHost(c->meta_host);
        if (c->stage) cudaFreeHost(c->stage);
        if (c->cublas) cublasDestroy(c->cublas);
        if (c->stream) cudaStreamDestroy(c->stream);
        delete c;  // dev_buffers free themselves
    }
    delete b;
}

const rs_backend_i cuda_iface = {"cuda",         cuda_forward, cuda_kv_export,
                                 cuda_kv_import, cuda_kv_copy, cuda_free};

rs_backend *cuda_init(const rs_backend_params &p) {
    const rs_model *model = p.model;  // the engine frees it once the upload is done
    RS_CHECK(p.kv_dtype == RS_DTYPE_F32, "backend 'cuda' supports kvCacheDtype f32 only (for now)");
    RS_CHECK(model->cfg.head_dim <= 256, "backend 'cuda' supports head_dim <= 256");
    auto *b = new rs_backend();
    b->iface = &cuda_iface;
    auto *c = new cuda_backend();
    b->context = c;
    try {
        c->device = p.device;
        RS_CUDA_CHECK(cudaSetDevice(c->device), "cudaSetDevice");
        RS_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate");
        RS_CUBLAS_CHECK(cublasCreate(&c->cublas), "cublasCreate");
        RS_CUBLAS_CHECK(cublasSetStream(c->cublas, c->stream), "cublasSetStream");
        const rs_model &m = *model;
        c->cfg = m.cfg;
        c->n_heads = m.n_heads;
        c->n_kv = m.n_kv_heads;
        c->q_dim = m.q_dim;
        c->kv_dim = m.kv_dim;
        c->inter = m.inter;
        c->num_blocks = p.num_blocks;
        c->block_size = p.block_size;
        for (auto *buf : {&c->x, &c->xn, &c->q, &c->k, &c->v, &c->att, &c->gate, &c->up, &c->part, &c->xf,
                          &c->logits, &c->pool, &c->embed, &c->lm_head, &c->final_norm, &c->inv_freq})
            buf->device = c->device;
        upload(c->embed, m.embed, c->device, "the embedding");
        upload(c->lm_head, m.lm_head, c->device, "the LM head");
        upload_vec(c->final_norm, m.final_norm, c->device, "the final norm");
        upload_vec(c->inv_freq, m.inv_freq, c->device, "rope frequencies");
        size_t weight_floats = c->embed.n + c->lm_head.n;
        for (const rs_layer &L : m.layers) {
            auto d = std::make_unique<cuda_layer>();
            upload(d->wq, L.wq, c->device, "q_proj");
            upload(d->wk, L.wk, c->device, "k_proj");
            upload(d->wv, L.wv, c->device, "v_proj");
            upload(d->wo, L.wo, c->device, "o_proj");
            upload(d->w_gate, L.w_gate, c->device, "gate_proj");
            upload(d->w_up, L.w_up, c->device, "up_proj");
            upload(d->w_down, L.w_down, c->device, "down_proj");
            upload_vec(d->attn_norm, L.attn_norm, c->device, "norms");
            upload_vec(d->ffn_norm, L.ffn_norm, c->device, "norms");
            upload_vec(d->bq, L.bq, c->device, "biases");
            upload_vec(d->bk, L.bk, c->device, "biases");
            upload_vec(d->bv, L.bv, c->device, "biases");
            upload_vec(d->bo, L.bo, c->device, "biases");
            upload_vec(d->b_gate, L.b_gate, c->device, "biases");
            upload_vec(d->b_up, L.b_up, c->device, "biases");
            upload_vec(d->b_down, L.b_down, c->device, "biases");
            weight_floats += d->wq.n + d->wk.n + d->wv.n + d->wo.n + d->w_gate.n + d->w_up.n + d->w_down.n;
            c->layers.push_back(std::move(d));
        }
        c->block_floats = (size_t)m.cfg.n_layers * 2 * c->n_kv * p.block_size * m.cfg.head_dim;
        c->pool.reserve(c->block_floats * (size_t)p.num_blocks, "the KV pool");
        RS_CUDA_CHECK(cudaMemset(c->pool.ptr, 0, c->pool.n * sizeof(float)), "KV pool clear");
        b->kv_bytes_per_block = c->block_floats * sizeof(float);
        b->weight_bytes = weight_floats * sizeof(float);
        b->n_threads = 1;
    } catch (...) {
        cuda_free(b);
        throw;
    }
    return b;
}

void copy_error(const std::exception &e, char *err, size_t err_len) {
    if (err && err_len > 0) {
        std::strncpy(err, e.what(), err_len - 1);
        err[err_len - 1] = 0;
    }
}

}  // namespace

extern "C" __attribute__((visibility("default"))) rs_backend *rs_backend_cuda_init(const rs_backend_params *p,
                                                                                   char *err,
                                                                                   size_t err_len) {
    try {
        return cuda_init(*p);
    } catch (const std::exception &e) {
        copy_error(e, err, err_len);
        return nullptr;
    }
}

extern "C" __attribute__((visibility("default"))) int rs_backend_cuda_device_count(char *err,
                                                                                   size_t err_len) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaSuccess) return n;
    if (e == cudaErrorNoDevice) return 0;
    if (err && err_len > 0) std::snprintf(err, err_len, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
    return -1;
}
