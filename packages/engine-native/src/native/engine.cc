#include "engine.h"

#include <memory>

namespace {
// Marks the engine busy for the duration of one operation; overlapping calls are a caller bug.
struct busy_guard {
    rs_engine *e;
    explicit busy_guard(rs_engine *engine) : e(engine) {
        RS_CHECK(!e->busy.exchange(true), "engine is already running an operation (calls must be queued)");
    }
    ~busy_guard() { e->busy.store(false); }
};
}  // namespace

rs_engine *rs_engine_init(const rs_engine_params &p) {
    std::unique_ptr<rs_engine, void (*)(rs_engine *)> e(new rs_engine(), rs_engine_free);
    e->kernels = &rs_kernels_select(p.simd);
    rs_weight_store *store = rs_weight_store_init(p.tensors);
    e->model = rs_model_init(p.config, store);
    e->kv = rs_kv_pool_init(p.kv_dtype, p.num_blocks, p.block_size, p.config.n_layers, e->model->n_kv_heads,
                            p.config.head_dim);
    e->pool = rs_thread_pool_init(p.n_threads);
    return e.release();
}

void rs_engine_free(rs_engine *e) {
    if (!e) return;
    rs_thread_pool_free(e->pool);
    rs_kv_pool_free(e->kv);
    rs_model_free(e->model);
    delete e;
}

std::vector<rs_step_output> rs_engine_step(rs_engine *e, const std::vector<rs_step_seq> &seqs) {
    busy_guard guard(e);
    const int vocab = e->model->cfg.vocab_size;
    std::vector<rs_batch_seq> batch(seqs.size());
    std::vector<int> logit_rows;
    std::vector<int> first_row(seqs.size(), -1);  // index into logit_rows of each sequence's first row
    int t = 0;
    for (size_t i = 0; i < seqs.size(); i++) {
        const rs_step_seq &s = seqs[i];
        RS_CHECK(!s.tokens.empty(), "sequence " + std::to_string(i) + " has no tokens");
        batch[i] = {s.tokens.data(), (int)s.tokens.size(), s.start_pos, s.block_table.data(),
                    (int)s.block_table.size()};
        const int n = (int)s.tokens.size();
        if (s.logits_mode == RS_LOGITS_MODE_ALL) {
            first_row[i] = (int)logit_rows.size();
            for (int j = 0; j < n; j++) logit_rows.push_back(t + j);
        } else if (s.sample || s.logits_mode == RS_LOGITS_MODE_LAST) {
            first_row[i] = (int)logit_rows.size();
            logit_rows.push_back(t + n - 1);
        }
        t += n;
    }
    rs_forward(*e->model, *e->kv, *e->kernels, e->pool, e->scratch, batch, logit_rows, e->logits);

    std::vector<rs_step_output> out(seqs.size());
    for (size_t i = 0; i < seqs.size(); i++) {
        const rs_step_seq &s = seqs[i];
        if (first_row[i] < 0) continue;
        rs_step_output &o = out[i];
        o.present = true;
        const int n_rows = s.logits_mode == RS_LOGITS_MODE_ALL ? (int)s.tokens.size() : 1;
        const float *rows = e->logits.data() + (size_t)first_row[i] * vocab;  // [n_rows, vocab]
        const float *last = rows + (size_t)(n_rows - 1) * vocab;              // [vocab]
        if (s.logits_mode != RS_LOGITS_MODE_NONE) o.logits.assign(rows, rows + (size_t)n_rows * vocab);
        if (s.sample) {
            const int64_t position = (int64_t)s.start_pos + (int64_t)s.tokens.size();
            o.sample =
                rs_sample(last, vocab, s.sampling, s.prompt_tokens.data(), (int)s.prompt_tokens.size(),
                          s.output_tokens.data(), (int)s.output_tokens.size(), position, e->sample_scratch);
        }
    }
    return out;
}

void rs_engine_export(rs_engine *e, const std::vector<int32_t> &blocks, uint8_t *out, size_t out_len) {
    busy_guard guard(e);
    RS_CHECK(out_len == blocks.size() * e->kv->bytes_per_block, "export buffer has the wrong size");
    rs_kv_pool_export(e->kv, blocks.data(), (int)blocks.size(), out);
}

void rs_engine_import(rs_engine *e, const std::vector<int32_t> &blocks, const uint8_t *in, size_t in_len) {
    busy_guard guard(e);
    RS_CHECK(in_len == blocks.size() * e->kv->bytes_per_block,
             "import data is " + std::to_string(in_len) + " bytes, expected " +
                 std::to_string(blocks.size() * e->kv->bytes_per_block) + " (" +
                 std::to_string(blocks.size()) + " blocks)");
    rs_kv_pool_import(e->kv, blocks.data(), (int)blocks.size(), in);
}

void rs_engine_copy(rs_engine *e, const std::vector<int32_t> &src, const std::vector<int32_t> &dst) {
    busy_guard guard(e);
    RS_CHECK(src.size() == dst.size(), "copyBlocks: src and dst differ in length");
    rs_kv_pool_copy(e->kv, src.data(), dst.data(), (int)src.size());
}
