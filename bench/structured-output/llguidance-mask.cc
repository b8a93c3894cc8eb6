// llguidance's per-token mask cost on a real vocabulary (run by main.ts, which builds it).
// argv: <token bytes file> <schema file> <eos id>. Token bytes file: u32 count, then per token u32
// length + bytes (special tokens prefixed with 0xFF, as llguidance expects).
// A random walk through the grammar: at each step the mask is computed (timed), a random allowed
// token is taken (EOS once allowed after 40 steps), 20 walks of at most 200 steps.
#include "llguidance.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include <algorithm>
static double now_us() { return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    std::ifstream f(argv[1], std::ios::binary);
    uint32_t n; f.read((char *)&n, 4);
    std::vector<uint32_t> lens(n); std::vector<uint8_t> bytes;
    for (uint32_t i = 0; i < n; i++) { uint32_t l; f.read((char *)&l, 4); lens[i] = l; size_t o = bytes.size(); bytes.resize(o + l); f.read((char *)bytes.data() + o, l); }
    std::ifstream sf(argv[2]); std::stringstream ss; ss << sf.rdbuf(); std::string schema = ss.str();
    LlgTokenizerInit ti; memset(&ti, 0, sizeof ti);
    ti.vocab_size = n; ti.tok_eos = (uint32_t)atoi(argv[3]); ti.token_lens = lens.data(); ti.token_bytes = bytes.data(); ti.use_approximate_greedy_tokenize_fn = true;
    char err[1024];
    double t = now_us();
    LlgTokenizer *tok = llg_new_tokenizer(&ti, err, sizeof err);
    if (!tok) { printf("tokenizer: %s\n", err); return 1; }
    printf("tokenizer init ms %.1f\n", (now_us() - t) / 1000);
    LlgConstraintInit ci; llg_constraint_init_set_defaults(&ci, tok); ci.ff_tokens_ok = false;
    t = now_us();
    LlgMatcher *m0 = llg_new_matcher(&ci, "json_schema", schema.c_str());
    if (llg_matcher_is_error(m0)) { printf("matcher: %s\n", llg_matcher_get_error(m0)); return 1; }
    printf("compile first ms %.2f\n", (now_us() - t) / 1000);
    t = now_us();
    LlgMatcher *m1 = llg_clone_matcher(m0);
    printf("clone (cached compiled grammar) ms %.3f\n", (now_us() - t) / 1000);
    llg_free_matcher(m1);
    size_t mb = llg_matcher_get_mask_byte_size(m0);
    std::vector<uint32_t> mask(mb / 4);
    std::vector<double> times; std::mt19937 rng(12345); long ff = 0;
    for (int run = 0; run < 20; run++) {
        LlgMatcher *m = llg_clone_matcher(m0);
        for (int i = 0; i < 200 && !llg_matcher_is_stopped(m); i++) {
            double t0 = now_us();
            if (llg_matcher_compute_mask_into(m, mask.data(), mb) != 0) { printf("mask err %s\n", llg_matcher_get_error(m)); return 1; }
            times.push_back(now_us() - t0);
            std::vector<uint32_t> allowed;
            for (size_t w = 0; w < mask.size(); w++) for (int b = 0; b < 32; b++) if (mask[w] >> b & 1) allowed.push_back(w * 32 + b);
            uint32_t tk = (i > 40 && std::find(allowed.begin(), allowed.end(), ti.tok_eos) != allowed.end()) ? ti.tok_eos : allowed[rng() % allowed.size()];
            uint32_t fft[64]; int32_t nff = llg_matcher_compute_ff_tokens(m, fft, 64); if (nff > 0) ff += nff;
            if (llg_matcher_consume_token(m, tk) != 0) { printf("consume err %s\n", llg_matcher_get_error(m)); return 1; }
        }
        llg_free_matcher(m);
    }
    std::sort(times.begin(), times.end()); double sum = 0; for (double x : times) sum += x;
    printf("mask: n=%zu mean %.0f us p50 %.0f us p99 %.0f us (ff tokens seen %ld)\n", times.size(), sum / times.size(), times[times.size() / 2], times[times.size() * 99 / 100], ff);
}
