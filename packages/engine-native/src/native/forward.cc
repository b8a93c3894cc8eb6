// The forward pass, top to bottom. Activations are f32 and row-major; T is the number of tokens in
// the whole batch (all sequences' chunks concatenated), so every projection is one GEMM over T rows.
// The arithmetic goes through the kernel vtable: with rs_kernels_ref this file is the plain-loop
// reference the SIMD kernels are tested against.
#include "forward.h"

#include <cmath>

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

// Rows per work chunk: about 8 chunks per thread (so a thread that starts late or runs slow
// leaves its share to the others), whole 48-row units (the 6-row and 8-row kernel tiles).
static int chunk_rows(int n, int n_threads) {
    const int unit = 48;
    const int target = (n + 8 * n_threads - 1) / (8 * n_threads);
    const int rows = (target + unit - 1) / unit * unit;
    return rows < unit ? unit : rows;
}

// Runs fn(r0, r1) over [0, n) in chunks spread across the pool.
template <typename F>
static void parallel_rows(rs_thread_pool *pool, int n, F fn) {
    const int rows = chunk_rows(n, pool->n_threads);
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
    s.scores.resize((size_t)n_threads * c.max_position_embeddings);  // [threads, max_pos]
    s.kv_row.resize((size_t)n_threads * bs * hd * 2);                // [threads, 2, block_size, head_dim]
    if (tp) s.part.resize((size_t)T * hidden);                       // [T, hidden]

    // The row-split projections (o_proj, down_proj): y = in . W^T over this rank's slice of the input
    // dimension. One rank adds into x directly; with TP every rank computes its partial sum into
    // `part` (the bias only on rank 0, see model.cc), the collective sums the partials, then x += part.
    auto row_split_matmul = [&](const float *in, int in_dim, const rs_weight &w,
                                const std::vector<float> &bias) {
        if (!tp) {
            parallel_rows(pool, hidden, [&](int r0, int r1) {
                kern.matmul(in, T, in_dim, w, r0, r1, bias_or_null(bias), s.x.data(), hidden, true);
            });
            return;
        }
        parallel_rows(pool, hidden, [&](int r0, int r1) {
            kern.matmul(in, T, in_dim, w, r0, r1, bias_or_null(bias), s.part.data(), hidden, false);
        });
        coll->iface->all_reduce_sum(coll, rank, s.part.data(), (size_t)T * hidden);
        for (size_t i = 0; i < (size_t)T * hidden; i++) s.x[i] += s.part[i];
    };

    // Embedding lookup: x[t] = embed[tok[t]] widened to f32.
    for (int t = 0; t < T; t++) {
        const uint8_t *row =
            (const uint8_t *)model.embed->data + (size_t)tok[t] * hidden * rs_dtype_size(model.embed->dtype);
        for (int i = 0; i < hidden; i++)
            s.x[(size_t)t * hidden + i] = rs_load_f32(row, model.embed->dtype, i);
    }
    // Rotary angles per token, shared by every layer and head (f32 product, as transformers does).
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            const float angle = (float)pos_of[t] * model.inv_freq[i];
            s.rope_cos[(size_t)t * half + i] = std::cos(angle);
            s.rope_sin[(size_t)t * half + i] = std::sin(angle);
        }
    }

    for (int l = 0; l < c.n_layers; l++) {
        const rs_layer &L = model.layers[l];

        // Attention block: xn = RMSNorm(x); q, k, v = xn . Wq^T, xn . Wk^T, xn . Wv^T (+ biases).
        rmsnorm(s.xn.data(), s.x.data(), L.attn_norm.data(), T, hidden, c.rms_norm_eps);
        {
            // One parallel section for the three projections: chunks of q rows, then k, then v.
            const int rows_q = chunk_rows(q_dim, pool->n_threads);
            const int rows_kv = chunk_rows(kv_dim, pool->n_threads);
            const int n_q = (q_dim + rows_q - 1) / rows_q;
            const int n_kv_chunks = (kv_dim + rows_kv - 1) / rows_kv;
            rs_thread_pool_run(pool, n_q + 2 * n_kv_chunks, [&](int c, int) {
                if (c < n_q) {
                    const int r0 = c * rows_q;
                    const int r1 = r0 + rows_q < q_dim ? r0 + rows_q : q_dim;
                    kern.matmul(s.xn.data(), T, hidden, *L.wq, r0, r1, bias_or_null(L.bq), s.q.data(), q_dim,
                                false);
                    return;
                }
                const bool is_k = c < n_q + n_kv_chunks;
                const int r0 = (is_k ? c - n_q : c - n_q - n_kv_chunks) * rows_kv;
                const int r1 = r0 + rows_kv < kv_dim ? r0 + rows_kv : kv_dim;
                if (is_k)
                    kern.matmul(s.xn.data(), T, hidden, *L.wk, r0, r1, bias_or_null(L.bk), s.k.data(), kv_dim,
                                false);
                else
                    kern.matmul(s.xn.data(), T, hidden, *L.wv, r0, r1, bias_or_null(L.bv), s.v.data(), kv_dim,
                                false);
            });
        }

        // RoPE on q and k, then store k and v of the new tokens at blockTable[pos / bs], slot pos % bs.
        for (int t = 0; t < T; t++) {
            const float *cos_t = s.rope_cos.data() + (size_t)t * half;
            const float *sin_t = s.rope_sin.data() + (size_t)t * half;
            rope_apply(s.q.data() + (size_t)t * q_dim, model.n_heads, hd, cos_t, sin_t);
            rope_apply(s.k.data() + (size_t)t * kv_dim, n_kv, hd, cos_t, sin_t);
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

        // Attention: token t attends positions 0..pos_of[t] of its own sequence, read from the pool.
        // Work items are (token, KV head); the query heads of a GQA group share the K/V reads.
        rs_thread_pool_run(pool, T * n_kv, [&](int item, int tid) {
            float *scores = s.scores.data() + (size_t)tid * c.max_position_embeddings;  // [pos + 1]
            float *kv_tmp = s.kv_row.data() + (size_t)tid * bs * hd * 2;                // [2, bs, hd]
            const int t = item / n_kv;
            const int g = item % n_kv;
            const rs_batch_seq &b = batch[seq_of[t]];
            const int n_pos = pos_of[t] + 1;
            const int n_blk = (n_pos + bs - 1) / bs;
            for (int hq = g * group; hq < (g + 1) * group; hq++) {
                const float *qv = s.q.data() + (size_t)t * q_dim + (size_t)hq * hd;  // [hd]
                float *out = s.att.data() + (size_t)t * q_dim + (size_t)hq * hd;     // [hd]
                float max_score = -INFINITY;
                for (int bi = 0; bi < n_blk; bi++) {
                    const int n_slot = n_pos - bi * bs < bs ? n_pos - bi * bs : bs;
                    const uint8_t *kslab = rs_kv_pool_slab(&kv, b.block_table[bi], l, 0, g);  // [bs, hd]
                    const float *krows = (const float *)kslab;
                    if (kv.dtype != RS_DTYPE_F32) {
                        for (int i = 0; i < n_slot * hd; i++) kv_tmp[i] = rs_load_f32(kslab, kv.dtype, i);
                        krows = kv_tmp;
                    }
                    float *sc = scores + bi * bs;
                    kern.attn_scores(qv, krows, n_slot, hd, scale, sc);
                    for (int j = 0; j < n_slot; j++)
                        if (sc[j] > max_score) max_score = sc[j];
                }
                float sum = 0.0f;
                for (int p = 0; p < n_pos; p++) {
                    scores[p] = std::exp(scores[p] - max_score);
                    sum += scores[p];
                }
                const float inv_sum = 1.0f / sum;
                for (int p = 0; p < n_pos; p++) scores[p] *= inv_sum;  // softmax weights
                for (int i = 0; i < hd; i++) out[i] = 0.0f;
                for (int bi = 0; bi < n_blk; bi++) {
                    const int n_slot = n_pos - bi * bs < bs ? n_pos - bi * bs : bs;
                    const uint8_t *vslab = rs_kv_pool_slab(&kv, b.block_table[bi], l, 1, g);  // [bs, hd]
                    const float *vrows = (const float *)vslab;
                    if (kv.dtype != RS_DTYPE_F32) {
                        float *tmp = kv_tmp + (size_t)bs * hd;
                        for (int i = 0; i < n_slot * hd; i++) tmp[i] = rs_load_f32(vslab, kv.dtype, i);
                        vrows = tmp;
                    }
                    kern.attn_values(scores + bi * bs, vrows, n_slot, hd, out);
                }
            }
        });

        // x += att . Wo^T (+ bias); with TP: one all-reduce
        row_split_matmul(s.att.data(), q_dim, *L.wo, L.bo);

        // MLP block: xn = RMSNorm(x); gate = SiLU(xn . Wg^T) * (xn . Wu^T); x += gate . Wd^T.
        // Each thread computes gate and up for the same columns, so it can apply SiLU * up to them
        // without waiting for the others.
        rmsnorm(s.xn.data(), s.x.data(), L.ffn_norm.data(), T, hidden, c.rms_norm_eps);
        parallel_rows(pool, inter, [&](int r0, int r1) {
            kern.matmul(s.xn.data(), T, hidden, *L.w_gate, r0, r1, bias_or_null(L.b_gate), s.gate.data(),
                        inter, false);
            kern.matmul(s.xn.data(), T, hidden, *L.w_up, r0, r1, bias_or_null(L.b_up), s.up.data(), inter,
                        false);
            for (int t = 0; t < T; t++) {
                float *g = s.gate.data() + (size_t)t * inter;
                const float *u = s.up.data() + (size_t)t * inter;
                for (int i = r0; i < r1; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
            }
        });
        // x += gate . Wd^T (+ bias); with TP: one all-reduce
        row_split_matmul(s.gate.data(), inter, *L.w_down, L.b_down);
    }

    // Final norm and LM head, only for the rows that need logits.
    const int R = (int)logit_rows.size();
    if (R == 0) return;
    s.xf.resize((size_t)R * hidden);  // [R, hidden]
    for (int r = 0; r < R; r++) {
        rmsnorm(s.xf.data() + (size_t)r * hidden, s.x.data() + (size_t)logit_rows[r] * hidden,
                model.final_norm.data(), 1, hidden, c.rms_norm_eps);
    }
    // The LM head weight is whole on every rank (mapped once, shared pages); each rank computes the
    // logits of its vocab slice [v0, v1) into the shared [R, vocab] buffer (an all-gather in place).
    const int v0 = (int)((int64_t)c.vocab_size * rank / n_ranks);
    const int v1 = (int)((int64_t)c.vocab_size * (rank + 1) / n_ranks);
    parallel_rows(pool, v1 - v0, [&](int r0, int r1) {
        kern.matmul(s.xf.data(), R, hidden, *model.lm_head, v0 + r0, v0 + r1, nullptr, logits, c.vocab_size,
                    false);
    });
}
