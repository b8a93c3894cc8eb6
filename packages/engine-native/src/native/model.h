// A Llama-family model bound to its weights: the config TypeScript parsed and validated, and per-layer
// pointers into the weight store. Biases are optional everywhere (Qwen2 q/k/v, Llama attention_bias,
// mlp_bias); norm weights and biases are small and kept as f32 copies.
#pragma once

#include <string>
#include <vector>

#include "weights.h"

enum rs_rope_scaling {
    RS_ROPE_SCALING_NONE = 0,
    RS_ROPE_SCALING_LLAMA3 = 1,
};

struct rs_model_config {
    int vocab_size = 0;
    int hidden_size = 0;
    int intermediate_size = 0;
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int max_position_embeddings = 0;
    float rope_theta = 10000.0f;
    float rms_norm_eps = 1e-6f;
    bool tie_word_embeddings = false;
    rs_rope_scaling rope_scaling = RS_ROPE_SCALING_NONE;
    float rope_factor = 1.0f;
    float rope_low_freq_factor = 1.0f;
    float rope_high_freq_factor = 4.0f;
    int rope_original_max_position = 8192;
    // Q and K rows hold each head's rotary pairs interleaved (pair i = elements 2i, 2i + 1), as
    // llama.cpp's GGUF converter permutes Llama's q_proj/k_proj; otherwise HF's rotate_half layout
    // (pair i = elements i, i + head_dim / 2).
    bool rope_interleaved = false;
    // Block-quantized weights multiplied in f32 after dequantization (the exact path) instead of
    // integer dot products with 8-bit activations.
    bool quant_exact = false;
    int tp_rank = 0;
    int tp_size = 1;
};

struct rs_layer {
    const rs_weight *wq = nullptr;                            // [q_dim, hidden]
    const rs_weight *wk = nullptr;                            // [kv_dim, hidden]
    const rs_weight *wv = nullptr;                            // [kv_dim, hidden]
    const rs_weight *wo = nullptr;                            // [hidden, q_dim]
    const rs_weight *w_gate = nullptr;                        // [inter, hidden]
    const rs_weight *w_up = nullptr;                          // [inter, hidden]
    const rs_weight *w_down = nullptr;                        // [hidden, inter]
    std::vector<float> attn_norm;                             // [hidden]
    std::vector<float> ffn_norm;                              // [hidden]
    std::vector<float> bq, bk, bv, bo, b_gate, b_up, b_down;  // empty when the model has none
};

struct rs_model {
    rs_model_config cfg;
    rs_weight_store *store = nullptr;
    // This rank's dimensions (equal to the config's when tp_size = 1).
    int n_heads = 0;
    int n_kv_heads = 0;
    int q_dim = 0;   // n_heads * head_dim
    int kv_dim = 0;  // n_kv_heads * head_dim
    int inter = 0;
    const rs_weight *embed = nullptr;    // [vocab, hidden]
    const rs_weight *lm_head = nullptr;  // [vocab, hidden] (the embedding when tied)
    std::vector<float> final_norm;       // [hidden]
    std::vector<rs_layer> layers;
    std::vector<float> inv_freq;  // [head_dim / 2], llama3 scaling applied
};

// Takes ownership of `store` (freed by rs_model_free, also when init throws).
rs_model *rs_model_init(const rs_model_config &cfg, rs_weight_store *store);
void rs_model_free(rs_model *model);
