#include "model.h"

#include <cmath>
#include <memory>

static std::vector<float> optional_f32(const rs_weight_store *store, const std::string &name, int64_t n) {
    const rs_weight *w = rs_weight_store_find(store, name);
    if (!w) return {};
    RS_CHECK(w->rows * w->cols == n, "tensor " + name + " has " + std::to_string(w->rows * w->cols) +
                                         " elements, expected " + std::to_string(n));
    return rs_weight_to_f32(*w);
}

static const rs_weight *matrix(const rs_weight_store *store, const std::string &name, int64_t rows,
                               int64_t cols) {
    const rs_weight &w = rs_weight_store_get(store, name);
    RS_CHECK(w.rows == rows && w.cols == cols, "tensor " + name + " is [" + std::to_string(w.rows) + ", " +
                                                   std::to_string(w.cols) + "], expected [" +
                                                   std::to_string(rows) + ", " + std::to_string(cols) + "]");
    return &w;
}

// HF's rotary inverse frequencies (computed in f32 like transformers does), with the llama3
// frequency-dependent scaling when the config asks for it.
static std::vector<float> rope_inv_freq(const rs_model_config &c) {
    const int half = c.head_dim / 2;
    std::vector<float> inv(half);
    for (int i = 0; i < half; i++) {
        const float exponent = (float)(2 * i) / (float)c.head_dim;
        inv[i] = 1.0f / std::pow(c.rope_theta, exponent);
    }
    if (c.rope_scaling == RS_ROPE_SCALING_LLAMA3) {
        const float old_ctx = (float)c.rope_original_max_position;
        const float low_wavelen = old_ctx / c.rope_low_freq_factor;
        const float high_wavelen = old_ctx / c.rope_high_freq_factor;
        for (int i = 0; i < half; i++) {
            const float wavelen = 2.0f * (float)M_PI / inv[i];
            if (wavelen > low_wavelen) {
                inv[i] = inv[i] / c.rope_factor;
            } else if (wavelen >= high_wavelen) {
                const float smooth = (old_ctx / wavelen - c.rope_low_freq_factor) /
                                     (c.rope_high_freq_factor - c.rope_low_freq_factor);
                inv[i] = (1.0f - smooth) * inv[i] / c.rope_factor + smooth * inv[i];
            }
        }
    }
    return inv;
}

rs_model *rs_model_init(const rs_model_config &cfg, rs_weight_store *store) {
    std::unique_ptr<rs_model, void (*)(rs_model *)> m(new rs_model(), rs_model_free);
    m->store = store;
    m->cfg = cfg;
    RS_CHECK(cfg.head_dim > 0 && cfg.head_dim % 2 == 0, "head_dim must be even and positive");
    RS_CHECK(cfg.n_heads % cfg.tp_size == 0 && cfg.n_kv_heads % cfg.tp_size == 0 &&
                 cfg.intermediate_size % cfg.tp_size == 0,
             "heads, KV heads and intermediate size must divide by the tp size");
    RS_CHECK(cfg.n_heads % cfg.n_kv_heads == 0,
             "num_attention_heads must be a multiple of num_key_value_heads");
    const int64_t hidden = cfg.hidden_size;
    m->n_heads = cfg.n_heads / cfg.tp_size;
    m->n_kv_heads = cfg.n_kv_heads / cfg.tp_size;
    m->q_dim = m->n_heads * cfg.head_dim;
    m->kv_dim = m->n_kv_heads * cfg.head_dim;
    m->inter = cfg.intermediate_size / cfg.tp_size;
    m->embed = matrix(store, "model.embed_tokens.weight", cfg.vocab_size, hidden);
    m->lm_head = cfg.tie_word_embeddings ? m->embed : matrix(store, "lm_head.weight", cfg.vocab_size, hidden);
    m->final_norm = rs_weight_to_f32(*matrix(store, "model.norm.weight", 1, hidden));
    for (int l = 0; l < cfg.n_layers; l++) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        rs_layer L;
        L.wq = matrix(store, p + "self_attn.q_proj.weight", m->q_dim, hidden);
        L.wk = matrix(store, p + "self_attn.k_proj.weight", m->kv_dim, hidden);
        L.wv = matrix(store, p + "self_attn.v_proj.weight", m->kv_dim, hidden);
        L.wo = matrix(store, p + "self_attn.o_proj.weight", hidden, m->q_dim);
        L.w_gate = matrix(store, p + "mlp.gate_proj.weight", m->inter, hidden);
        L.w_up = matrix(store, p + "mlp.up_proj.weight", m->inter, hidden);
        L.w_down = matrix(store, p + "mlp.down_proj.weight", hidden, m->inter);
        L.attn_norm = rs_weight_to_f32(*matrix(store, p + "input_layernorm.weight", 1, hidden));
        L.ffn_norm = rs_weight_to_f32(*matrix(store, p + "post_attention_layernorm.weight", 1, hidden));
        L.bq = optional_f32(store, p + "self_attn.q_proj.bias", m->q_dim);
        L.bk = optional_f32(store, p + "self_attn.k_proj.bias", m->kv_dim);
        L.bv = optional_f32(store, p + "self_attn.v_proj.bias", m->kv_dim);
        // Row-split layers add their bias once, on rank 0, before the all-reduce.
        if (cfg.tp_rank == 0) L.bo = optional_f32(store, p + "self_attn.o_proj.bias", hidden);
        L.b_gate = optional_f32(store, p + "mlp.gate_proj.bias", m->inter);
        L.b_up = optional_f32(store, p + "mlp.up_proj.bias", m->inter);
        if (cfg.tp_rank == 0) L.b_down = optional_f32(store, p + "mlp.down_proj.bias", hidden);
        m->layers.push_back(std::move(L));
    }
    m->inv_freq = rope_inv_freq(cfg);
    return m.release();
}

void rs_model_free(rs_model *model) {
    if (!model) return;
    rs_weight_store_free(model->store);
    delete model;
}
