#include "speculative.h"

#include <cstddef>

// Salt that separates the accept test's uniform from the draw at the same position.
static const uint64_t k_accept_salt = 0x5bd1e9955bd1e995ull;

// The sampled token's logprob (and top alternatives) from the raw logits, as rs_sample reports them.
static void fill_logprob(const float *row, int vocab, int top_n, rs_sample_result &r) {
    if (top_n < 0) return;
    const rs_sample_result lp = rs_token_logprob(row, vocab, r.token, top_n);
    r.logprob = lp.logprob;
    r.top = lp.top;
}

std::vector<rs_sample_result> rs_verify_drafts(const float *rows, int vocab, const int32_t *drafts,
                                               int n_draft, const rs_sampling_params &p,
                                               const int32_t *prompt, int n_prompt, const int32_t *output,
                                               int n_output, int64_t position, std::vector<float> &scratch) {
    std::vector<rs_sample_result> out;
    // Penalties see the output so far: the request's output, then each accepted draft.
    std::vector<int32_t> history(output, output + n_output);
    std::vector<double> probs;
    for (int j = 0; j <= n_draft; j++) {
        const float *row = rows + (std::size_t)j * vocab;  // [vocab]
        const int64_t pos = position + j;
        if (j == n_draft || p.temperature <= 0.0f) {
            // Bonus row, or greedy: the target's own token (what non-speculative decoding emits).
            rs_sample_result r =
                rs_sample(row, vocab, p, prompt, n_prompt, history.data(), (int)history.size(), pos, scratch);
            const bool accepted = j < n_draft && r.token == drafts[j];
            out.push_back(std::move(r));
            if (!accepted) break;
            history.push_back(drafts[j]);
            continue;
        }
        const int32_t d = drafts[j];
        rs_sample_probs(row, vocab, p, prompt, n_prompt, history.data(), (int)history.size(), scratch, probs);
        rs_sample_result r;
        if (rs_sample_uniform(p.seed ^ k_accept_salt, pos) < probs[(std::size_t)d]) {
            r.token = d;
            fill_logprob(row, vocab, p.logprobs, r);
            out.push_back(std::move(r));
            history.push_back(d);
            continue;
        }
        // Rejected: draw from the residual, p without d, renormalized.
        const double rest = 1.0 - probs[(std::size_t)d];
        probs[(std::size_t)d] = 0.0;
        const double u = rs_sample_uniform(p.seed, pos) * rest;
        double cum = 0.0;
        r.token = -1;
        for (int i = 0; i < vocab; i++) {
            if (probs[(std::size_t)i] == 0.0) continue;
            cum += probs[(std::size_t)i];
            r.token = i;  // the last candidate absorbs rounding
            if (u < cum) break;
        }
        if (r.token < 0) r.token = d;  // p was a point mass at d (cannot be rejected; rounding only)
        fill_logprob(row, vocab, p.logprobs, r);
        out.push_back(std::move(r));
        break;
    }
    return out;
}
