// Verification of drafted tokens (speculative decoding) against the target model's logits.
//
// A sequence that carries K drafted tokens runs [last, d_1 .. d_K] in one step; row j of its logits
// (j = 0..K) is the target's prediction for the token after d_j (d_0 = last). Verification walks the
// rows in order and emits the accepted drafts followed by one token from the target:
//   - greedy (temperature 0): d_{j+1} is accepted while it equals the target's argmax (penalties
//     applied over the output so far, accepted drafts included); the first mismatch emits the argmax,
//     and when every draft is accepted row K gives a bonus token. The output is exactly what
//     one-token-at-a-time greedy decoding produces.
//   - sampling: the drafts are deterministic proposals (a point mass q = 1 at d), so rejection
//     sampling accepts d with probability p(d) under the target's transformed distribution p
//     (penalties, temperature, top-k, top-p, min-p) and on rejection draws from p with d removed,
//     renormalized (the residual max(p - q, 0)). Every emitted token is therefore distributed
//     exactly as the target's own sample. The bonus row samples as rs_sample does.
// Draws depend only on (seed, position), like rs_sample.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling.h"

// `rows` is [n_draft + 1, vocab] raw logits; `drafts` holds n_draft tokens. Returns the emitted
// tokens (1 .. n_draft + 1): the accepted drafts, then the target's token. `position` is the
// position the first emitted token occupies.
std::vector<rs_sample_result> rs_verify_drafts(const float *rows, int vocab, const int32_t *drafts,
                                               int n_draft, const rs_sampling_params &p,
                                               const int32_t *prompt, int n_prompt, const int32_t *output,
                                               int n_output, int64_t position, std::vector<float> &scratch);
