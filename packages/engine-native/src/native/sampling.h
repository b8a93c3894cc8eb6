// Native sampling of one next token from a row of raw logits.
// Order (types.ts SamplingParams): penalties -> logit bias -> token mask -> temperature -> top-k -> top-p ->
// min-p -> draw. The random draw depends only on (seed, position of the sampled token), never on the batch.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

struct rs_sampling_params {
    float temperature = 0.0f;  // 0 = greedy
    int top_k = 0;             // <= 0 disabled
    float top_p = 1.0f;        // 1 disabled
    float min_p = 0.0f;        // 0 disabled
    float repetition_penalty = 1.0f;
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    uint64_t seed = 0;
    int logprobs = -1;  // -1 none, 0 only the sampled token, n top alternatives
    // OpenAI's logit_bias: bias_values[i] is added to the logit of bias_tokens[i] (ids checked in TS).
    std::vector<int32_t> bias_tokens;
    std::vector<float> bias_values;
    // Constrained decoding: a bitset over the vocabulary (bit t of word t/32 set = token t may be
    // sampled); empty = every token. Applied after the bias, so nothing can lift a masked token.
    std::vector<uint32_t> allowed;
};

struct rs_sample_result {
    int token = -1;
    float logprob = 0.0f;
    std::vector<std::pair<int, float>> top;  // (token, logprob), descending
};

// `scratch` is reused between calls. `position` is the position the sampled token will occupy.
rs_sample_result rs_sample(const float *logits, int vocab, const rs_sampling_params &p, const int32_t *prompt,
                           int n_prompt, const int32_t *output, int n_output, int64_t position,
                           std::vector<float> &scratch);

// log softmax of one row of raw logits at `token`, with the `top_n` most likely tokens (descending;
// ties to the lower id) when top_n > 0. What the sampler reports, and what prompt logprobs are.
rs_sample_result rs_token_logprob(const float *logits, int vocab, int token, int top_n);

// The distribution rs_sample draws from, normalized, in token order: `probs` = [vocab].
void rs_sample_probs(const float *logits, int vocab, const rs_sampling_params &p, const int32_t *prompt,
                     int n_prompt, const int32_t *output, int n_output, std::vector<float> &scratch,
                     std::vector<double> &probs);

// Uniform double in [0, 1) from (seed, position).
double rs_sample_uniform(uint64_t seed, int64_t position);
