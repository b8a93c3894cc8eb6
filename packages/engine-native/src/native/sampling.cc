#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

double rs_sample_uniform(uint64_t seed, int64_t position) {
    // Two rounds so that nearby seeds and nearby positions give unrelated draws.
    const uint64_t h = splitmix64(splitmix64(seed) ^ ((uint64_t)position * 0xd1b54a32d192ed03ull));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

// HF (repetition, over prompt + output: divides positive logits, multiplies negative) and OpenAI
// (frequency * count + presence, over output tokens).
static void apply_penalties(float *l, int vocab, const rs_sampling_params &p, const int32_t *prompt,
                            int n_prompt, const int32_t *output, int n_output) {
    if (p.repetition_penalty != 1.0f) {
        std::vector<int32_t> seen;
        seen.reserve((size_t)(n_prompt + n_output));
        seen.insert(seen.end(), prompt, prompt + n_prompt);
        seen.insert(seen.end(), output, output + n_output);
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        for (int32_t t : seen) {
            if (t < 0 || t >= vocab) continue;
            l[t] = l[t] > 0 ? l[t] / p.repetition_penalty : l[t] * p.repetition_penalty;
        }
    }
    if (p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f) {
        std::unordered_map<int32_t, int> counts;
        for (int i = 0; i < n_output; i++) counts[output[i]]++;
        for (const auto &kv : counts) {
            if (kv.first < 0 || kv.first >= vocab) continue;
            l[kv.first] -= p.frequency_penalty * (float)kv.second + p.presence_penalty;
        }
    }
}

static int argmax(const float *l, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best]) best = i;
    return best;
}

// Penalties, then the logit bias, then the token mask (-inf outside it): what every draw starts from.
static void transform_logits(float *l, int vocab, const rs_sampling_params &p, const int32_t *prompt,
                             int n_prompt, const int32_t *output, int n_output) {
    apply_penalties(l, vocab, p, prompt, n_prompt, output, n_output);
    for (size_t i = 0; i < p.bias_tokens.size(); i++) {
        const int32_t t = p.bias_tokens[i];
        if (t >= 0 && t < vocab) l[t] += p.bias_values[i];
    }
    if (!p.allowed.empty()) {
        const int words = std::min((int)p.allowed.size(), (vocab + 31) / 32);
        for (int w = 0; w < words; w++) {
            const uint32_t bits = p.allowed[w];
            if (bits == 0xffffffffu) continue;
            const int end = std::min(vocab, (w + 1) * 32);
            for (int t = w * 32; t < end; t++)
                if (!((bits >> (t & 31)) & 1u)) l[t] = -INFINITY;
        }
        for (int t = words * 32; t < vocab; t++) l[t] = -INFINITY;
    }
}

// The sorted path of rs_sample: candidates sorted by logit (descending; top-k truncates the sort),
// softmax(l / temperature) over them, then top-p and min-p truncation. Returns how many remain:
// idx[0..n) and their probabilities prob[0..n) (not renormalized after truncation).
static int sorted_candidates(const float *l, int vocab, const rs_sampling_params &p, std::vector<int> &idx,
                             std::vector<double> &prob) {
    // Candidates sorted by logit, descending; top-k truncates before the sort finishes.
    idx.resize((size_t)vocab);
    std::iota(idx.begin(), idx.end(), 0);
    const auto by_logit = [&](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
    int n = vocab;
    if (p.top_k > 0 && p.top_k < vocab) {
        n = p.top_k;
        std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), by_logit);
    } else {
        std::sort(idx.begin(), idx.end(), by_logit);
    }
    prob.assign((size_t)n, 0.0);  // softmax(l / temperature) over the candidates
    const double max_l = l[idx[0]];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        prob[i] = std::exp(((double)l[idx[i]] - max_l) / (double)p.temperature);
        sum += prob[i];
    }
    for (int i = 0; i < n; i++) prob[i] /= sum;
    if (p.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p (always at least one token)
        double cum = 0.0;
        int keep = 0;
        while (keep < n) {
            cum += prob[keep++];
            if (cum >= (double)p.top_p) break;
        }
        n = keep;
    }
    if (p.min_p > 0.0f) {  // drop tokens below min_p * the most likely one
        const double floor_p = (double)p.min_p * prob[0];
        int keep = 1;
        while (keep < n && prob[keep] >= floor_p) keep++;
        n = keep;
    }
    return n;
}

rs_sample_result rs_sample(const float *logits, int vocab, const rs_sampling_params &p, const int32_t *prompt,
                           int n_prompt, const int32_t *output, int n_output, int64_t position,
                           std::vector<float> &scratch) {
    rs_sample_result res;
    scratch.assign(logits, logits + vocab);
    float *l = scratch.data();  // [vocab] logits after penalties
    transform_logits(l, vocab, p, prompt, n_prompt, output, n_output);

    if (p.temperature <= 0.0f) {
        res.token = argmax(l, vocab);
    } else if ((p.top_k <= 0 || p.top_k >= vocab) && p.top_p >= 1.0f) {
        // No top-k / top-p: no sort needed. Softmax over the vocabulary in one pass, min-p as a
        // threshold, then the draw in token order.
        const float max_l = l[argmax(l, vocab)];
        std::vector<double> prob(vocab);
        for (int i = 0; i < vocab; i++) prob[i] = std::exp(((double)l[i] - max_l) / (double)p.temperature);
        double mass = 0.0;
        const double floor_w = (double)p.min_p;  // the most likely token has weight 1
        for (int i = 0; i < vocab; i++) {
            if (prob[i] < floor_w) prob[i] = 0.0;
            mass += prob[i];
        }
        const double u = rs_sample_uniform(p.seed, position) * mass;
        double cum = 0.0;
        res.token = argmax(l, vocab);
        for (int i = 0; i < vocab; i++) {
            if (prob[i] == 0.0) continue;
            cum += prob[i];
            if (u < cum) {
                res.token = i;
                break;
            }
        }
    } else {
        std::vector<int> idx;
        std::vector<double> prob;
        const int n = sorted_candidates(l, vocab, p, idx, prob);
        double mass = 0.0;
        for (int i = 0; i < n; i++) mass += prob[i];
        const double u = rs_sample_uniform(p.seed, position) * mass;
        double cum = 0.0;
        res.token = idx[n - 1];
        for (int i = 0; i < n; i++) {
            cum += prob[i];
            if (u < cum) {
                res.token = idx[i];
                break;
            }
        }
    }

    if (p.logprobs >= 0) {
        const rs_sample_result lp = rs_token_logprob(logits, vocab, res.token, p.logprobs);
        res.logprob = lp.logprob;
        res.top = lp.top;
    }
    return res;
}

rs_sample_result rs_token_logprob(const float *logits, int vocab, int token, int top_n) {
    // log softmax of the raw logits (before penalties and temperature), as OpenAI reports them.
    rs_sample_result res;
    res.token = token;
    double max_l = logits[0];
    for (int i = 1; i < vocab; i++) max_l = std::max(max_l, (double)logits[i]);
    double sum = 0.0;
    for (int i = 0; i < vocab; i++) sum += std::exp((double)logits[i] - max_l);
    const double lse = max_l + std::log(sum);
    res.logprob = (float)((double)logits[token] - lse);
    if (top_n > 0) {
        const int n = std::min(top_n, vocab);
        std::vector<int> idx(vocab);
        std::iota(idx.begin(), idx.end(), 0);
        std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int a, int b) {
            return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
        });
        for (int i = 0; i < n; i++) res.top.emplace_back(idx[i], (float)((double)logits[idx[i]] - lse));
    }
    return res;
}

void rs_sample_probs(const float *logits, int vocab, const rs_sampling_params &p, const int32_t *prompt,
                     int n_prompt, const int32_t *output, int n_output, std::vector<float> &scratch,
                     std::vector<double> &probs) {
    scratch.assign(logits, logits + vocab);
    float *l = scratch.data();  // [vocab] logits after penalties, bias and mask
    transform_logits(l, vocab, p, prompt, n_prompt, output, n_output);
    probs.assign((size_t)vocab, 0.0);
    if (p.temperature <= 0.0f) {
        probs[(size_t)argmax(l, vocab)] = 1.0;
        return;
    }
    if ((p.top_k <= 0 || p.top_k >= vocab) && p.top_p >= 1.0f) {
        // rs_sample's unsorted path: min-p as a threshold on the weight (the most likely token has 1).
        const float max_l = l[argmax(l, vocab)];
        for (int i = 0; i < vocab; i++)
            probs[(size_t)i] = std::exp(((double)l[i] - max_l) / (double)p.temperature);
        double mass = 0.0;
        for (int i = 0; i < vocab; i++) {
            if (probs[(size_t)i] < (double)p.min_p) probs[(size_t)i] = 0.0;
            mass += probs[(size_t)i];
        }
        for (double &x : probs) x /= mass;
        return;
    }
    // rs_sample's sorted path.
    std::vector<int> idx;
    std::vector<double> prob;
    const int n = sorted_candidates(l, vocab, p, idx, prob);
    double mass = 0.0;
    for (int i = 0; i < n; i++) mass += prob[i];
    std::fill(probs.begin(), probs.end(), 0.0);
    for (int i = 0; i < n; i++) probs[(size_t)idx[i]] = prob[i] / mass;
}
