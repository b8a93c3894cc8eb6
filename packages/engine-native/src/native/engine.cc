#include "engine.h"

#include <dlfcn.h>

#include <exception>
#include <memory>
#include <thread>

namespace {
// Marks the engine busy for the duration of one operation; overlapping calls are a caller bug.
struct busy_guard {
    rs_engine *e;
    explicit busy_guard(rs_engine *engine) : e(engine) {
        RS_CHECK(!e->busy.exchange(true), "engine is already running an operation (calls must be queued)");
    }
    ~busy_guard() { e->busy.store(false); }
};

// Runs fn(rank) on every rank at once: rank 0 on the calling thread, the others on threads started for
// this call (a few tens of microseconds, small next to a step). A rank that throws aborts the
// collective so the others leave their barriers; the first exception is rethrown here.
template <typename F>
void run_ranks(rs_engine *e, F fn) {
    const int n = (int)e->ranks.size();
    if (n == 1) {
        fn(0);
        return;
    }
    std::vector<std::exception_ptr> errors((size_t)n);
    auto body = [&](int r) {
        try {
            fn(r);
        } catch (...) {
            errors[(size_t)r] = std::current_exception();
            e->coll->iface->abort(e->coll);
        }
    };
    std::vector<std::thread> threads;
    threads.reserve((size_t)n - 1);
    for (int r = 1; r < n; r++) threads.emplace_back(body, r);
    body(0);
    for (auto &t : threads) t.join();
    // Prefer the error that caused the abort over the rs_collective_aborted echoes of the others.
    std::exception_ptr first;
    for (auto &err : errors) {
        if (!err) continue;
        if (!first) first = err;
        try {
            std::rethrow_exception(err);
        } catch (const rs_collective_aborted &) {
            continue;
        } catch (...) {
            first = err;
            break;
        }
    }
    if (first) {
        e->coll->iface->reset(e->coll);
        std::rethrow_exception(first);
    }
}
void check_blocks(const rs_engine *e, const std::vector<int32_t> &blocks) {
    for (int32_t b : blocks)
        RS_CHECK(b >= 0 && b < e->num_blocks,
                 "block id " + std::to_string(b) + " out of range 0.." + std::to_string(e->num_blocks - 1));
}
}  // namespace

// Export / import layout: block after block in the order given; one block is its per-rank shards
// concatenated in rank order (rank r's shard = that rank's pool block: [layer][k|v][its kv heads]
// [slot][head_dim]). With one rank this is exactly the pool's block.

rs_engine *rs_engine_init(const rs_engine_params &p) {
    RS_CHECK(p.tp_size >= 1, "tp size must be >= 1");
    RS_CHECK(p.config.n_kv_heads % p.tp_size == 0 && p.config.n_heads % p.tp_size == 0,
             "tp size " + std::to_string(p.tp_size) + " must divide the attention heads (" +
                 std::to_string(p.config.n_heads) + ") and KV heads (" + std::to_string(p.config.n_kv_heads) +
                 ")");
    RS_CHECK(p.backend == "cpu" || p.backend == "cuda",
             "unknown backend '" + p.backend + "' (known: cpu, cuda)");
    std::unique_ptr<rs_engine, void (*)(rs_engine *)> e(new rs_engine(), rs_engine_free);
    e->kernels = &rs_kernels_select(p.simd);
    // The collective first: a missing NCCL is the first thing to tell someone who asked for it.
    e->coll = rs_collective_init(p.collective, p.tp_size);
    RS_CHECK(p.backend == "cuda" || p.collective == "cpu" || p.tp_size == 1,
             "collective '" + p.collective + "' works on device buffers: it needs backend 'cuda'");
    RS_CHECK(p.backend == "cpu" || p.collective != "cpu" || p.tp_size == 1,
             "backend 'cuda' with tp > 1 needs collective 'nccl'");
    RS_CHECK(p.kv_shm_path.empty() || (p.backend == "cpu" && p.tp_size == 1),
             "a KV pool in shared memory (kvPoolShmPath) needs backend 'cpu' and tp size 1");
    if (p.backend == "cuda") {
        for (const auto &d : p.tensors)
            RS_CHECK(!rs_dtype_is_quant(d.dtype) && !rs_dtype_is_quant(d.quantize),
                     "backend 'cuda' runs f32/f16/bf16 weights only: tensor " + d.name + " is " +
                         rs_dtype_name(rs_dtype_is_quant(d.dtype) ? d.dtype : d.quantize));
    }
    rs_cuda_library cuda;
    if (p.backend == "cuda") {
        cuda = rs_cuda_library_load(p.cuda_library, p.tp_size);
        e->cuda_lib = cuda.lib;
    }
    e->vocab_size = p.config.vocab_size;
    e->num_blocks = p.num_blocks;
    for (int r = 0; r < p.tp_size; r++) {
        // Every rank maps the same files; its descriptors differ only in the rank they slice for.
        std::vector<rs_tensor_desc> descs = p.tensors;
        for (auto &d : descs) {
            d.tp_rank = r;
            d.tp_size = p.tp_size;
        }
        rs_model_config cfg = p.config;
        cfg.tp_rank = r;
        cfg.tp_size = p.tp_size;
        rs_backend_params bp;
        bp.model = rs_model_init(cfg, rs_weight_store_init(descs));
        bp.kernels = e->kernels;
        bp.kv_dtype = p.kv_dtype;
        bp.num_blocks = p.num_blocks;
        bp.block_size = p.block_size;
        // The cores are split between the ranks (rank threads run at the same time): n threads total,
        // the remainder to the low ranks, at least one each.
        const int threads = p.n_threads / p.tp_size + (r < p.n_threads % p.tp_size ? 1 : 0);
        bp.n_threads = threads < 1 ? 1 : threads;
        bp.device = r;
        bp.kv_shm_path = p.kv_shm_path;
        rs_backend *b = nullptr;
        if (p.backend == "cpu") {
            b = rs_backend_cpu_init(bp);  // owns bp.model from here, also when it throws
        } else {
            char err[1024] = {0};
            b = cuda.init(&bp, err, sizeof err);  // uploads the weights
            rs_model_free(bp.model);
            RS_CHECK(b != nullptr, std::string(err));
        }
        e->ranks.push_back(b);
        e->bytes_per_block += b->kv_bytes_per_block;
        e->weight_bytes += b->weight_bytes;
        e->n_threads += b->n_threads;
    }
    return e.release();
}

void rs_engine_free(rs_engine *e) {
    if (!e) return;
    for (rs_backend *b : e->ranks) b->iface->free(b);
    rs_collective_free(e->coll);
    if (e->cuda_lib) dlclose(e->cuda_lib);
    delete e;
}

std::vector<rs_step_output> rs_engine_step(rs_engine *e, const std::vector<rs_step_seq> &seqs) {
    busy_guard guard(e);
    const int vocab = e->vocab_size;
    std::vector<rs_batch_seq> batch(seqs.size());
    std::vector<int> logit_rows;
    std::vector<int> first_row(seqs.size(),
                               -1);  // index into logit_rows of each sequence's first row (all rows)
    std::vector<int> last_row(seqs.size(), -1);  // index into logit_rows of each sequence's last token
    std::vector<std::vector<int>> target_row(seqs.size());  // per token: index into logit_rows, or -1
    std::vector<int> draft_row(seqs.size(), -1);  // numDraft > 0: index of the first of its K+1 rows
    int t = 0;
    for (size_t i = 0; i < seqs.size(); i++) {
        const rs_step_seq &s = seqs[i];
        RS_CHECK(!s.tokens.empty(), "sequence " + std::to_string(i) + " has no tokens");
        batch[i] = {s.tokens.data(), (int)s.tokens.size(), s.start_pos, s.block_table.data(),
                    (int)s.block_table.size()};
        const int n = (int)s.tokens.size();
        const bool targets = !s.logprob_targets.empty();
        RS_CHECK(s.num_draft >= 0 && s.num_draft < n && (s.num_draft == 0 || (s.sample && !targets)),
                 "sequence " + std::to_string(i) + ": numDraft must be in 0.." + std::to_string(n - 1) +
                     ", needs sample and excludes prompt logprobs");
        RS_CHECK(!targets || (int)s.logprob_targets.size() == n,
                 "sequence " + std::to_string(i) + " has logprob targets for a different number of tokens");
        if (targets) target_row[i].assign((size_t)n, -1);
        for (int32_t target : s.logprob_targets)
            RS_CHECK(target < vocab, "logprob target " + std::to_string(target) +
                                         " is not a token id (vocab " + std::to_string(vocab) + ")");
        if (s.logits_mode == RS_LOGITS_MODE_ALL) {
            first_row[i] = (int)logit_rows.size();
            for (int j = 0; j < n; j++) logit_rows.push_back(t + j);
            last_row[i] = first_row[i] + n - 1;
            if (s.num_draft > 0) draft_row[i] = first_row[i] + n - 1 - s.num_draft;
            if (targets)
                for (int j = 0; j < n; j++)
                    if (s.logprob_targets[(size_t)j] >= 0) target_row[i][(size_t)j] = first_row[i] + j;
        } else if (s.num_draft > 0) {  // rows of the last token before the drafts and of every draft
            draft_row[i] = (int)logit_rows.size();
            for (int j = n - 1 - s.num_draft; j < n; j++) logit_rows.push_back(t + j);
            last_row[i] = draft_row[i] + s.num_draft;
        } else {
            if (targets)
                for (int j = 0; j < n; j++) {
                    if (s.logprob_targets[(size_t)j] < 0) continue;
                    target_row[i][(size_t)j] = (int)logit_rows.size();
                    logit_rows.push_back(t + j);
                }
            if (s.sample || s.logits_mode == RS_LOGITS_MODE_LAST) {
                const int shared = targets ? target_row[i][(size_t)n - 1] : -1;
                if (shared >= 0) {
                    last_row[i] = shared;
                } else {
                    last_row[i] = (int)logit_rows.size();
                    logit_rows.push_back(t + n - 1);
                }
            }
        }
        t += n;
    }
    e->logits.resize(logit_rows.size() * (size_t)vocab);  // [rows, vocab], each rank fills its vocab slice
    run_ranks(e, [&](int r) {
        rs_backend *b = e->ranks[(size_t)r];
        b->iface->forward(b, batch, logit_rows, e->logits.data(), e->coll, r);
    });

    std::vector<rs_step_output> out(seqs.size());
    for (size_t i = 0; i < seqs.size(); i++) {
        const rs_step_seq &s = seqs[i];
        rs_step_output &o = out[i];
        if (!target_row[i].empty()) {
            o.present = true;
            o.target_logprobs.resize(target_row[i].size());
            for (size_t j = 0; j < target_row[i].size(); j++) {
                const int row = target_row[i][j];
                if (row < 0) continue;
                o.target_logprobs[j] = rs_token_logprob(e->logits.data() + (size_t)row * vocab, vocab,
                                                        s.logprob_targets[j], s.logprob_top_n);
            }
        }
        if (last_row[i] < 0) continue;
        o.present = true;
        const float *last = e->logits.data() + (size_t)last_row[i] * vocab;  // [vocab]
        if (s.logits_mode == RS_LOGITS_MODE_ALL) {
            const float *rows = e->logits.data() + (size_t)first_row[i] * vocab;  // [n, vocab]
            o.logits.assign(rows, rows + s.tokens.size() * (size_t)vocab);
        } else if (s.logits_mode == RS_LOGITS_MODE_LAST) {
            o.logits.assign(last, last + vocab);
        }
        if (s.num_draft > 0) {
            const int n = (int)s.tokens.size();
            const float *draft_rows =
                e->logits.data() + (size_t)draft_row[i] * vocab;  // [num_draft+1, vocab]
            o.verified = rs_verify_drafts(draft_rows, vocab, s.tokens.data() + (n - s.num_draft), s.num_draft,
                                          s.sampling, s.prompt_tokens.data(), (int)s.prompt_tokens.size(),
                                          s.output_tokens.data(), (int)s.output_tokens.size(),
                                          (int64_t)s.start_pos + n - s.num_draft, e->sample_scratch);
            o.sample = o.verified.front();
        } else if (s.sample) {
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
    RS_CHECK(out_len == blocks.size() * e->bytes_per_block, "export buffer has the wrong size");
    check_blocks(e, blocks);
    size_t offset = 0;  // rank r's shard starts after the shards of ranks 0..r-1
    for (rs_backend *b : e->ranks) {
        b->iface->kv_export(b, blocks.data(), (int)blocks.size(), out + offset, e->bytes_per_block);
        offset += b->kv_bytes_per_block;
    }
}

void rs_engine_import(rs_engine *e, const std::vector<int32_t> &blocks, const uint8_t *in, size_t in_len) {
    busy_guard guard(e);
    RS_CHECK(in_len == blocks.size() * e->bytes_per_block,
             "import data is " + std::to_string(in_len) + " bytes, expected " +
                 std::to_string(blocks.size() * e->bytes_per_block) + " (" + std::to_string(blocks.size()) +
                 " blocks)");
    check_blocks(e, blocks);  // a bad id leaves the pool untouched
    size_t offset = 0;
    for (rs_backend *b : e->ranks) {
        b->iface->kv_import(b, blocks.data(), (int)blocks.size(), in + offset, e->bytes_per_block);
        offset += b->kv_bytes_per_block;
    }
}

void rs_engine_copy(rs_engine *e, const std::vector<int32_t> &src, const std::vector<int32_t> &dst) {
    busy_guard guard(e);
    RS_CHECK(src.size() == dst.size(), "copyBlocks: src and dst differ in length");
    check_blocks(e, src);
    check_blocks(e, dst);
    for (rs_backend *b : e->ranks) b->iface->kv_copy(b, src.data(), dst.data(), (int)src.size());
}
