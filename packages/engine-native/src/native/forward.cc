// The forward pass, top to bottom. Activations are f32 and row-major; T is the number of tokens in
// the whole batch (all sequences' chunks concatenated), so every projection is one GEMM over T rows.
// The arithmetic goes through the kernel vtable: with rs_kernels_ref this file is the plain-loop
// reference the SIMD kernels are tested against.
#include "forward.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

// RADIXSERVE_PROFILE=N: every N steps, prints to stderr the mean wall time per step of each section
// of the forward pass (a cheap stand-in for perf, which the VM does not offer). Off by default.
namespace {
enum rs_prof_section {
    RS_PROF_EMBED,
    RS_PROF_QKV,
    RS_PROF_ROPE_KV,
    RS_PROF_ATTN,
    RS_PROF_O,
    RS_PROF_GATE_UP,
    RS_PROF_DOWN,
    RS_PROF_HEAD,
    RS_PROF_COUNT,
};
const char *const k_prof_names[RS_PROF_COUNT] = {"embed", "norm+qkv",     "rope+kv", "attn",
                                                 "o",     "norm+gate_up", "down",    "head"};
struct rs_prof {
    int every = -1;  // -1: not read yet; 0: off
    int steps = 0;
    long tokens = 0;
    double ms[RS_PROF_COUNT] = {};
    std::chrono::steady_clock::time_point last;
    bool on() {
        if (every < 0) {
            const char *e = std::getenv("RADIXSERVE_PROFILE");
            every = e ? std::atoi(e) : 0;
        }
        return every > 0;
    }
    void start() { last = std::chrono::steady_clock::now(); }
    void lap(rs_prof_section sec) {
        const auto now = std::chrono::steady_clock::now();
        ms[sec] += std::chrono::duration<double, std::milli>(now - last).count();
        last = now;
    }
    void step_done(int T) {
        tokens += T;
        if (++steps < every) return;
        double total = 0;
        for (double m : ms) total += m;
        std::fprintf(stderr, "[radixserve profile] %d steps, %.1f tokens/step, %.3f ms/step:", steps,
                     (double)tokens / steps, total / steps);
        for (int i = 0; i < RS_PROF_COUNT; i++)
            std::fprintf(stderr, " %s %.3f (%.0f%%)", k_prof_names[i], ms[i] / steps, 100.0 * ms[i] / total);
        std::fprintf(stderr, "\n");
        const int keep = every;
        *this = rs_prof();
        every = keep;
    }
};
// One profile per process: steps of different engines share it, so profile one engine at a time.
rs_prof g_prof;  // touched by rank 0 only; an engine's steps are serialized
}  // namespace

// y[t] = x[t] / rms(x[t]) * w, over rows t of width n.
static void rmsnorm(float *y, const float *x, const float *w, int rows, int n, float eps) {
    for (int t = 0; t < rows; t++) {
        const float *xr = x + (size_t)t * n;
        float *yr = y + (size_t)t * n;
        float ss = 0.0f;
        for (int i = 0; i < n; i++) ss += xr[i] * xr[i];
        const float inv = 1.0f / std::sqrt(ss / (float)n + eps);
        for (int i = 0; i < n; i++) yr[i] = w[i] * (xr[i] * inv);
    }
}

// HF rotate_half convention: element i pairs with i + head_dim/2.
static void rope_apply(float *vec, int n_heads, int head_dim, const float *cos_t, const float *sin_t) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            const float a = v[i];
            const float b = v[i + half];
            v[i] = a * cos_t[i] - b * sin_t[i];
            v[i + half] = b * cos_t[i] + a * sin_t[i];
        }
    }
}

// GGUF's Llama layout (llama.cpp permutes q_proj/k_proj rows for it): pair i is elements 2i, 2i + 1.
static void rope_apply_interleaved(float *vec, int n_heads, int head_dim, const float *cos_t,
                                   const float *sin_t) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            const float a = v[2 * i];
            const float b = v[2 * i + 1];
            v[2 * i] = a * cos_t[i] - b * sin_t[i];
            v[2 * i + 1] = b * cos_t[i] + a * sin_t[i];
        }
    }
}

// Query tokens per attention work item: the scores of a tile are [16, block] matmuls, and 16 rows of
// max_pos scores per thread stay small (64 KB at 1k positions).
static const int k_query_tile = 16;

// Rows per work chunk: about 8 chunks per thread (so a thread that starts late or runs slow
// leaves its share to the others), whole 48-row units (the 6-row and 8-row kernel tiles, the packed
// GEMM's 48-row panels). Long batches (prefill) take 4 chunks per thread: the packed GEMM reuses
// each token's activations across the panels of a chunk, and 6 panels measured ~10% faster than 3.
static int chunk_rows(int n, int n_threads, int n_tokens) {
    const int unit = 48;
    const int per_thread = n_tokens >= 64 ? 4 : 8;
    const int target = (n + per_thread * n_threads - 1) / (per_thread * n_threads);
    const int rows = (target + unit - 1) / unit * unit;
    return rows < unit ? unit : rows;
}

// Runs fn(r0, r1) over [0, n) in chunks spread across the pool.
template <typename F>
static void parallel_rows(rs_thread_pool *pool, int n, int n_tokens, F fn) {
    const int rows = chunk_rows(n, pool->n_threads, n_tokens);
    rs_thread_pool_run(pool, (n + rows - 1) / rows, [&](int c, int) {
        const int r0 = c * rows;
        fn(r0, r0 + rows < n ? r0 + rows : n);
    });
}

static const float *bias_or_null(const std::vector<float> &b) {
    return b.empty() ? nullptr : b.data();
}

void rs_forward(const rs_model &model, rs_kv_pool &kv, const rs_kernels_i &kern, rs_thread_pool *pool,
                rs_forward_scratch &s, const std::vector<rs_batch_seq> &batch,
                const std::vector<int> &logit_rows, float *logits, rs_collective *coll, int rank) {
    const rs_model_config &c = model.cfg;
    const int n_ranks = coll ? coll->n_ranks : 1;
    const bool tp = n_ranks > 1;
    const int hidden = c.hidden_size;
    const int hd = c.head_dim;
    const int half = hd / 2;
    const int q_dim = model.q_dim;
    const int kv_dim = model.kv_dim;
    const int inter = model.inter;
    const int n_kv = model.n_kv_heads;
    const int group = model.n_heads / n_kv;  // query heads per KV head (GQA)
    const int bs = kv.block_size;
    const float scale = 1.0f / std::sqrt((float)hd);

    // Flatten the batch: token t belongs to sequence seq_of[t] at position pos_of[t].
    int T = 0;
    for (const auto &b : batch) T += b.n_tokens;
    std::vector<int> seq_of(T), pos_of(T);
    std::vector<int32_t> tok(T);
    {
        int t = 0;
        for (int i = 0; i < (int)batch.size(); i++) {
            const rs_batch_seq &b = batch[i];
            RS_CHECK(b.start_pos >= 0 && b.start_pos + b.n_tokens <= c.max_position_embeddings,
                     "positions past the model's context length");
            RS_CHECK((int64_t)b.n_blocks * bs >= (int64_t)b.start_pos + b.n_tokens,
                     "block table does not cover the sequence's positions");
            for (int j = 0; j < b.n_blocks; j++)
                RS_CHECK(b.block_table[j] >= 0 && b.block_table[j] < kv.num_blocks, "block id out of range");
            for (int j = 0; j < b.n_tokens; j++, t++) {
                RS_CHECK(b.tokens[j] >= 0 && b.tokens[j] < c.vocab_size, "token id out of range");
                seq_of[t] = i;
                pos_of[t] = b.start_pos + j;
                tok[t] = b.tokens[j];
            }
        }
    }
    const bool prof = rank == 0 && g_prof.on();
    if (prof) g_prof.start();
    const int n_threads = pool->n_threads;
    s.x.resize((size_t)T * hidden);       // [T, hidden] residual stream
    s.xn.resize((size_t)T * hidden);      // [T, hidden] normed input of a block
    s.q.resize((size_t)T * q_dim);        // [T, n_heads * head_dim]
    s.k.resize((size_t)T * kv_dim);       // [T, n_kv_heads * head_dim]
    s.v.resize((size_t)T * kv_dim);       // [T, n_kv_heads * head_dim]
    s.att.resize((size_t)T * q_dim);      // [T, n_heads * head_dim] attention output
    s.gate.resize((size_t)T * inter);     // [T, inter] then SiLU(gate) * up
    s.up.resize((size_t)T * inter);       // [T, inter]
    s.rope_cos.resize((size_t)T * half);  // [T, head_dim / 2]
    s.rope_sin.resize((size_t)T * half);  // [T, head_dim / 2]
    // Attention query tiles: runs of up to k_query_tile consecutive tokens of one sequence;
    // tile i is tokens [tile_start[i], tile_start[i + 1]).
    std::vector<int> tile_start;
    int max_pos = 0;
    for (int t = 0; t < T; t++) {
        if (t == 0 || seq_of[t] != seq_of[t - 1] || t - tile_start.back() == k_query_tile)
            tile_start.push_back(t);
        if (pos_of[t] + 1 > max_pos) max_pos = pos_of[t] + 1;
    }
    const int n_tiles = (int)tile_start.size();
    tile_start.push_back(T);
    const int lds = (max_pos + 15) / 16 * 16;                 // scores row stride
    s.scores.resize((size_t)n_threads * k_query_tile * lds);  // [threads, tile, lds]
    s.kv_row.resize((size_t)n_threads * bs * hd);             // [threads, block_size, head_dim]
    if (tp) s.part.resize((size_t)T * hidden);                // [T, hidden]

    // Every projection goes through matmul: the kernel table's (block-quantized weights dequantized
    // in registers), or on the exact path the plain dequantize-then-f32 loop for quantized weights.
    auto matmul = [&](const float *in, int n, int ld, const rs_weight &w, int r0, int r1, const float *bias,
                      float *y, int ldy, bool accumulate) {
        if (c.quant_exact && rs_dtype_is_quant(w.dtype))
            rs_matmul_dequant_ref(in, n, ld, w, r0, r1, bias, y, ldy, accumulate);
        else
            kern.matmul(in, n, ld, w, r0, r1, bias, y, ldy, accumulate);
    };

    // The row-split projections (o_proj, down_proj): y = in . W^T over this rank's slice of the input
    // dimension. One rank adds into x directly; with TP every rank computes its partial sum into
    // `part` (the bias only on rank 0, see model.cc), the collective sums the partials, then x += part.
    auto row_split_matmul = [&](const float *in, int in_dim, const rs_weight &w,
                                const std::vector<float> &bias) {
        if (!tp) {
            parallel_rows(pool, hidden, T, [&](int r0, int r1) {
                matmul(in, T, in_dim, w, r0, r1, bias_or_null(bias), s.x.data(), hidden, true);
            });
            return;
        }
        parallel_rows(pool, hidden, T, [&](int r0, int r1) {
            matmul(in, T, in_dim, w, r0, r1, bias_or_null(bias), s.part.data(), hidden, false);
        });
        coll->iface->all_reduce_sum(coll, rank, s.part.data(), (size_t)T * hidden);
        for (size_t i = 0; i < (size_t)T * hidden; i++) s.x[i] += s.part[i];
    };

    // Embedding lookup: x[t] = embed[tok[t]] widened (or dequantized) to f32.
    for (int t = 0; t < T; t++) {
        const uint8_t *row = (const uint8_t *)model.embed->data + (size_t)tok[t] * model.embed->row_bytes();
        rs_dequantize_row(model.embed->dtype, row, s.x.data() + (size_t)t * hidden, hidden);
    }
    // Rotary angles per token, shared by every layer and head (f32 product, as transformers does).
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            const float angle = (float)pos_of[t] * model.inv_freq[i];
            s.rope_cos[(size_t)t * half + i] = std::cos(angle);
            s.rope_sin[(size_t)t * half + i] = std::sin(angle);
        }
    }

    if (prof) g_prof.lap(RS_PROF_EMBED);
    for (int l = 0; l < c.n_layers; l++) {
        const rs_layer &L = model.layers[l];

        // Attention block: xn = RMSNorm(x); q, k, v = xn . Wq^T, xn . Wk^T, xn . Wv^T (+ biases).
        rmsnorm(s.xn.data(), s.x.data(), L.attn_norm.data(), T, hidden, c.rms_norm_eps);
        {
            // One parallel section for the three projections: chunks of q rows, then k, then v.
            const int rows_q = chunk_rows(q_dim, pool->n_threads, T);
            const int rows_kv = chunk_rows(kv_dim, pool->n_threads, T);
            const int n_q = (q_dim + rows_q - 1) / rows_q;
            const int n_kv_chunks = (kv_dim + rows_kv - 1) / rows_kv;
            rs_thread_pool_run(pool, n_q + 2 * n_kv_chunks, [&](int c, int) {
                if (c < n_q) {
                    const int r0 = c * rows_q;
                    const int r1 = r0 + rows_q < q_dim ? r0 + rows_q : q_dim;
                    matmul(s.xn.data(), T, hidden, *L.wq, r0, r1, bias_or_null(L.bq), s.q.data(), q_dim,
                           false);
                    return;
                }
                const bool is_k = c < n_q + n_kv_chunks;
                const int r0 = (is_k ? c - n_q : c - n_q - n_kv_chunks) * rows_kv;
                const int r1 = r0 + rows_kv < kv_dim ? r0 + rows_kv : kv_dim;
                if (is_k)
                    matmul(s.xn.data(), T, hidden, *L.wk, r0, r1, bias_or_null(L.bk), s.k.data(), kv_dim,
                           false);
                else
                    matmul(s.xn.data(), T, hidden, *L.wv, r0, r1, bias_or_null(L.bv), s.v.data(), kv_dim,
                           false);
            });
        }

        if (prof) g_prof.lap(RS_PROF_QKV);
        // RoPE on q and k, then store k and v of the new tokens at blockTable[pos / bs], slot pos % bs.
        for (int t = 0; t < T; t++) {
            const float *cos_t = s.rope_cos.data() + (size_t)t * half;
            const float *sin_t = s.rope_sin.data() + (size_t)t * half;
            const auto rope = c.rope_interleaved ? rope_apply_interleaved : rope_apply;
            rope(s.q.data() + (size_t)t * q_dim, model.n_heads, hd, cos_t, sin_t);
            rope(s.k.data() + (size_t)t * kv_dim, n_kv, hd, cos_t, sin_t);
            const rs_batch_seq &b = batch[seq_of[t]];
            const int block = b.block_table[pos_of[t] / bs];
            const int slot = pos_of[t] % bs;
            for (int h = 0; h < n_kv; h++) {
                uint8_t *kslab = rs_kv_pool_slab(&kv, block, l, 0, h);  // [bs, hd]
                uint8_t *vslab = rs_kv_pool_slab(&kv, block, l, 1, h);  // [bs, hd]
                const float *kt = s.k.data() + (size_t)t * kv_dim + (size_t)h * hd;
                const float *vt = s.v.data() + (size_t)t * kv_dim + (size_t)h * hd;
                for (int i = 0; i < hd; i++) {
                    rs_store_f32(kslab, kv.dtype, (size_t)slot * hd + i, kt[i]);
                    rs_store_f32(vslab, kv.dtype, (size_t)slot * hd + i, vt[i]);
                }
            }
        }

        if (prof) g_prof.lap(RS_PROF_ROPE_KV);
        // Attention: token t attends positions 0..pos_of[t] of its own sequence, read from the pool.
        // Work items are (query tile, KV head): a tile is up to k_query_tile consecutive tokens of one
        // sequence, so each K/V block is read once for the whole tile and all query heads of the GQA
        // group, and the scores of a block are one small matmul (tile x block slots).
        rs_thread_pool_run(pool, n_tiles * n_kv, [&](int item, int tid) {
            float *scores = s.scores.data() + (size_t)tid * k_query_tile * lds;  // [tile, lds]
            float *v_tmp = s.kv_row.data() + (size_t)tid * bs * hd;              // [bs, hd]
            const int t0 = tile_start[item / n_kv];
            const int nq = tile_start[item / n_kv + 1] - t0;
            const int g = item % n_kv;
            const rs_batch_seq &b = batch[seq_of[t0]];
            const int n_pos_last = pos_of[t0 + nq - 1] + 1;
            const int n_blk = (n_pos_last + bs - 1) / bs;
            for (int hq = g * group; hq < (g + 1) * group; hq++) {
                const float *qv =
                    s.q.data() + (size_t)t0 * q_dim + (size_t)hq * hd;  // [nq, hd], stride q_dim
                // scores[i, j] = q_i . k_j for every key of the tile's last token (the causal mask is
                // applied in the softmax: token i uses keys [0, pos_of[t0 + i]]).
                for (int bi = 0; bi < n_blk; bi++) {
                    rs_weight kw;  // the block's K rows [n_slot, hd] used in place as a weight
                    kw.data = rs_kv_pool_slab(&kv, b.block_table[bi], l, 0, g);
                    kw.dtype = kv.dtype;
                    kw.rows = n_pos_last - bi * bs < bs ? n_pos_last - bi * bs : bs;
                    kw.cols = hd;
                    kern.matmul(qv, nq, q_dim, kw, 0, (int)kw.rows, nullptr, scores + bi * bs, lds, false);
                }
                for (int i = 0; i < nq; i++) {
                    float *sc = scores + (size_t)i * lds;         // [n_pos]
                    kern.softmax(sc, pos_of[t0 + i] + 1, scale);  // softmax weights
                    float *out = s.att.data() + (size_t)(t0 + i) * q_dim + (size_t)hq * hd;  // [hd]
                    for (int d = 0; d < hd; d++) out[d] = 0.0f;
                }
                for (int bi = 0; bi < n_blk; bi++) {
                    const uint8_t *vslab = rs_kv_pool_slab(&kv, b.block_table[bi], l, 1, g);  // [bs, hd]
                    const int n_slot_blk = n_pos_last - bi * bs < bs ? n_pos_last - bi * bs : bs;
                    const float *vrows = (const float *)vslab;
                    if (kv.dtype != RS_DTYPE_F32) {
                        for (int i = 0; i < n_slot_blk * hd; i++) v_tmp[i] = rs_load_f32(vslab, kv.dtype, i);
                        vrows = v_tmp;
                    }
                    for (int i = 0; i < nq; i++) {
                        const int n_pos = pos_of[t0 + i] + 1;
                        if (n_pos <= bi * bs) continue;  // the block is past this token
                        const int n_slot = n_pos - bi * bs < bs ? n_pos - bi * bs : bs;
                        float *out = s.att.data() + (size_t)(t0 + i) * q_dim + (size_t)hq * hd;
                        kern.attn_values(scores + (size_t)i * lds + bi * bs, vrows, n_slot, hd, out);
                    }
                }
            }
        });
        if (prof) g_prof.lap(RS_PROF_ATTN);
        // x += att . Wo^T (+ bias); with TP: one all-reduce
        row_split_matmul(s.att.data(), q_dim, *L.wo, L.bo);
        if (prof) g_prof.lap(RS_PROF_O);

        // MLP block: xn = RMSNorm(x); gate = SiLU(xn . Wg^T) * (xn . Wu^T); x += gate . Wd^T.
        // Each thread computes gate and up for the same columns, so it can apply SiLU * up to them
        // without waiting for the others.
        rmsnorm(s.xn.data(), s.x.data(), L.ffn_norm.data(), T, hidden, c.rms_norm_eps);
        parallel_rows(pool, inter, T, [&](int r0, int r1) {
            matmul(s.xn.data(), T, hidden, *L.w_gate, r0, r1, bias_or_null(L.b_gate), s.gate.data(), inter,
                   false);
            matmul(s.xn.data(), T, hidden, *L.w_up, r0, r1, bias_or_null(L.b_up), s.up.data(), inter, false);
            for (int t = 0; t < T; t++)
                kern.silu_mul(s.gate.data() + (size_t)t * inter + r0, s.up.data() + (size_t)t * inter + r0,
                              r1 - r0);
        });
        if (prof) g_prof.lap(RS_PROF_GATE_UP);
        // x += gate . Wd^T (+ bias); with TP: one all-reduce
        row_split_matmul(s.gate.data(), inter, *L.w_down, L.b_down);
        if (prof) g_prof.lap(RS_PROF_DOWN);
    }

    // Final norm and LM head, only for the rows that need logits.
    const int R = (int)logit_rows.size();
    if (R == 0) {
        if (prof) g_prof.step_done(T);
        return;
    }
    s.xf.resize((size_t)R * hidden);  // [R, hidden]
    for (int r = 0; r < R; r++) {
        rmsnorm(s.xf.data() + (size_t)r * hidden, s.x.data() + (size_t)logit_rows[r] * hidden,
                model.final_norm.data(), 1, hidden, c.rms_norm_eps);
    }
    // The LM head weight is whole on every rank (mapped once, shared pages); each rank computes the
    // logits of its vocab slice [v0, v1) into the shared [R, vocab] buffer (an all-gather in place).
    const int v0 = (int)((int64_t)c.vocab_size * rank / n_ranks);
    const int v1 = (int)((int64_t)c.vocab_size * (rank + 1) / n_ranks);
    parallel_rows(pool, v1 - v0, R, [&](int r0, int r1) {
        matmul(s.xf.data(), R, hidden, *model.lm_head, v0 + r0, v0 + r1, nullptr, logits, c.vocab_size,
               false);
    });
    if (prof) {
        g_prof.lap(RS_PROF_HEAD);
        g_prof.step_done(T);
    }
}
