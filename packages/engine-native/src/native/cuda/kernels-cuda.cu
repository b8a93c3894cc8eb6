// The CUDA kernels of kernels-cuda.cuh: plain and readable first (one warp per attention row,
// one block per norm row); the CPU pass in forward.cc is their reference.
#include "kernels-cuda.cuh"

namespace {

__device__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__global__ void embed_kernel(const float *embed, const int32_t *tok, float *x, int hidden) {
    const int t = blockIdx.x;
    const float *row = embed + (size_t)tok[t] * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) x[(size_t)t * hidden + i] = row[i];
}

// One block (256 threads) per row: sum of squares by block reduction, then scale.
__global__ void rmsnorm_kernel(const float *x, const float *w, float *y, int n, float eps) {
    __shared__ float partial[32];
    const float *xr = x + (size_t)blockIdx.x * n;
    float *yr = y + (size_t)blockIdx.x * n;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
    ss = warp_sum(ss);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.0f;
        v = warp_sum(v);
        if (threadIdx.x == 0) partial[0] = v;
    }
    __syncthreads();
    const float inv = rsqrtf(partial[0] / (float)n + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) yr[i] = w[i] * (xr[i] * inv);
}

__global__ void add_bias_kernel(float *y, const float *bias, int rows, int n) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (size_t)rows * n) y[i] += bias[i % n];
}

__global__ void add_kernel(float *y, const float *x, size_t n) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

// One block per (token, head); thread i rotates the pair (i, i + half). Angles in f32 as transformers.
__global__ void rope_kernel(float *vec, const int32_t *pos, const float *inv_freq, int n_heads,
                            int head_dim) {
    const int t = blockIdx.x / n_heads;
    const int h = blockIdx.x % n_heads;
    const int half = head_dim / 2;
    float *v = vec + ((size_t)t * n_heads + h) * head_dim;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float sn, cs;
        sincosf((float)pos[t] * inv_freq[i], &sn, &cs);
        const float a = v[i];
        const float b = v[i + half];
        v[i] = a * cs - b * sn;
        v[i + half] = b * cs + a * sn;
    }
}

__device__ size_t slab_offset(int block, int layer, int kv, int head, int n_layers, int n_kv, int head_dim,
                              int bs) {
    const size_t slab = (size_t)bs * head_dim;
    const size_t per_block = (size_t)n_layers * 2 * n_kv * slab;
    return (size_t)block * per_block + (((size_t)layer * 2 + kv) * n_kv + head) * slab;
}

// One block per (token, kv head).
__global__ void kv_store_kernel(float *pool, const float *k, const float *v, const int32_t *pos,
                                const int32_t *seq_of, const int32_t *tables, const int32_t *table_off,
                                int layer, int n_layers, int n_kv, int head_dim, int bs) {
    const int t = blockIdx.x / n_kv;
    const int h = blockIdx.x % n_kv;
    const int p = pos[t];
    const int block = tables[table_off[seq_of[t]] + p / bs];
    const int slot = p % bs;
    float *kd =
        pool + slab_offset(block, layer, 0, h, n_layers, n_kv, head_dim, bs) + (size_t)slot * head_dim;
    float *vd =
        pool + slab_offset(block, layer, 1, h, n_layers, n_kv, head_dim, bs) + (size_t)slot * head_dim;
    const float *ks = k + ((size_t)t * n_kv + h) * head_dim;
    const float *vs = v + ((size_t)t * n_kv + h) * head_dim;
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        kd[i] = ks[i];
        vd[i] = vs[i];
    }
}

// One warp per (token, query head): lane l owns dims l, l + 32, ... (at most 8 of them).
__global__ void attention_kernel(const float *q, const float *pool, float *out, const int32_t *pos,
                                 const int32_t *seq_of, const int32_t *tables, const int32_t *table_off,
                                 int T, int layer, int n_layers, int n_heads, int n_kv, int head_dim, int bs,
                                 float scale) {
    const int warp = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (warp >= T * n_heads) return;
    const int t = warp / n_heads;
    const int h = warp % n_heads;
    const int g = h / (n_heads / n_kv);  // its KV head (GQA)
    const int n_dim = (head_dim + 31) / 32;
    const float *qv = q + ((size_t)t * n_heads + h) * head_dim;
    float qr[8], acc[8];
    for (int j = 0; j < n_dim; j++) {
        const int d = lane + 32 * j;
        qr[j] = d < head_dim ? qv[d] : 0.0f;
        acc[j] = 0.0f;
    }
    float m = -INFINITY;
    float l = 0.0f;
    const int32_t *table = tables + table_off[seq_of[t]];
    for (int p = 0; p <= pos[t]; p++) {
        const int block = table[p / bs];
        const size_t row = (size_t)(p % bs) * head_dim;
        const float *kr = pool + slab_offset(block, layer, 0, g, n_layers, n_kv, head_dim, bs) + row;
        const float *vr = pool + slab_offset(block, layer, 1, g, n_layers, n_kv, head_dim, bs) + row;
        float dot = 0.0f;
        for (int j = 0; j < n_dim; j++) {
            const int d = lane + 32 * j;
            if (d < head_dim) dot += qr[j] * kr[d];
        }
        const float sc = warp_sum(dot) * scale;
        const float m_new = fmaxf(m, sc);
        const float corr = __expf(m - m_new);
        const float w = __expf(sc - m_new);
        l = l * corr + w;
        for (int j = 0; j < n_dim; j++) {
            const int d = lane + 32 * j;
            acc[j] = acc[j] * corr + (d < head_dim ? w * vr[d] : 0.0f);
        }
        m = m_new;
    }
    float *o = out + ((size_t)t * n_heads + h) * head_dim;
    for (int j = 0; j < n_dim; j++) {
        const int d = lane + 32 * j;
        if (d < head_dim) o[d] = acc[j] / l;
    }
}

__global__ void silu_mul_kernel(float *gate, const float *up, size_t n) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const float g = gate[i];
        gate[i] = g / (1.0f + __expf(-g)) * up[i];
    }
}

__global__ void gather_rows_kernel(const float *src, const int32_t *rows, float *dst, int n) {
    const int r = blockIdx.x;
    for (int i = threadIdx.x; i < n; i += blockDim.x) dst[(size_t)r * n + i] = src[(size_t)rows[r] * n + i];
}

unsigned blocks_for(size_t n, unsigned per) {
    return (unsigned)((n + per - 1) / per);
}

}  // namespace

void rs_cuda_embed(const float *embed, const int32_t *tok, float *x, int T, int hidden, cudaStream_t s) {
    if (T > 0) embed_kernel<<<T, 256, 0, s>>>(embed, tok, x, hidden);
}

void rs_cuda_rmsnorm(const float *x, const float *w, float *y, int rows, int n, float eps, cudaStream_t s) {
    if (rows > 0) rmsnorm_kernel<<<rows, 256, 0, s>>>(x, w, y, n, eps);
}

void rs_cuda_add_bias(float *y, const float *bias, int rows, int n, cudaStream_t s) {
    const size_t total = (size_t)rows * n;
    if (total > 0) add_bias_kernel<<<blocks_for(total, 256), 256, 0, s>>>(y, bias, rows, n);
}

void rs_cuda_add(float *y, const float *x, size_t n, cudaStream_t s) {
    if (n > 0) add_kernel<<<blocks_for(n, 256), 256, 0, s>>>(y, x, n);
}

void rs_cuda_rope(float *vec, const int32_t *pos, const float *inv_freq, int T, int n_heads, int head_dim,
                  cudaStream_t s) {
    if (T > 0) rope_kernel<<<T * n_heads, 64, 0, s>>>(vec, pos, inv_freq, n_heads, head_dim);
}

void rs_cuda_kv_store(float *pool, const float *k, const float *v, const int32_t *pos, const int32_t *seq_of,
                      const int32_t *tables, const int32_t *table_off, int T, int layer, int n_layers,
                      int n_kv, int head_dim, int bs, cudaStream_t s) {
    if (T > 0)
        kv_store_kernel<<<T * n_kv, 64, 0, s>>>(pool, k, v, pos, seq_of, tables, table_off, layer, n_layers,
                                                n_kv, head_dim, bs);
}

void rs_cuda_attention(const float *q, const float *pool, float *out, const int32_t *pos,
                       const int32_t *seq_of, const int32_t *tables, const int32_t *table_off, int T,
                       int layer, int n_layers, int n_heads, int n_kv, int head_dim, int bs, float scale,
                       cudaStream_t s) {
    const size_t threads = (size_t)T * n_heads * 32;
    if (threads > 0)
        attention_kernel<<<blocks_for(threads, 128), 128, 0, s>>>(q, pool, out, pos, seq_of, tables,
                                                                  table_off, T, layer, n_layers, n_heads,
                                                                  n_kv, head_dim, bs, scale);
}

void rs_cuda_silu_mul(float *gate, const float *up, size_t n, cudaStream_t s) {
    if (n > 0) silu_mul_kernel<<<blocks_for(n, 256), 256, 0, s>>>(gate, up, n);
}

void rs_cuda_gather_rows(const float *src, const int32_t *rows, float *dst, int R, int n, cudaStream_t s) {
    if (R > 0) gather_rows_kernel<<<R, 256, 0, s>>>(src, rows, dst, n);
}
