// llguidance bindings: a tokenizer built once per model from the vocabulary's bytes, and one
// matcher per constrained sequence (compiled from a JSON schema, a regex or a Lark/EBNF grammar;
// cloning a matcher reuses its compiled grammar). The scheduler asks a matcher for the next-token
// mask (one bit per vocabulary token, the engine's allowedTokens layout), feeds it the sampled
// tokens, and ends the sequence when it stops.
//
// Built without llguidance (the build could not make the library), grammarAvailable() is false
// and the other functions are absent: constrained requests are refused before they get here.
#include "grammar-binding.h"

#ifdef RADIXSERVE_LLGUIDANCE
#include <cstring>
#include <string>
#include <vector>

#include "llguidance.h"

namespace {

struct Tokenizer {
    LlgTokenizer *tok;
    ~Tokenizer() { llg_free_tokenizer(tok); }
};

struct Matcher {
    LlgMatcher *m;
    ~Matcher() { llg_free_matcher(m); }
};

template <typename T>
T *unwrap(const Napi::Value &v, const char *what) {
    if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a handle");
    return v.As<Napi::External<T>>().Data();
}

Napi::Value wrap_matcher(Napi::Env env, LlgMatcher *m) {
    if (llg_matcher_is_error(m)) {
        std::string err = llg_matcher_get_error(m);
        llg_free_matcher(m);
        throw Napi::Error::New(env, err);
    }
    return Napi::External<Matcher>::New(env, new Matcher{m}, [](Napi::Env, Matcher *p) { delete p; });
}

Matcher *matcher_arg(const Napi::CallbackInfo &info) {
    return unwrap<Matcher>(info[0], "matcher");
}

void check(Napi::Env env, Matcher *m, int32_t rc) {
    if (rc != 0 || llg_matcher_is_error(m->m)) throw Napi::Error::New(env, llg_matcher_get_error(m->m));
}

// grammarTokenizer({tokenLens: Uint32Array, tokenBytes: Uint8Array, eos}); special tokens' bytes
// start with 0xFF, as llguidance expects.
Napi::Value grammar_tokenizer(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    auto lens = o.Get("tokenLens").As<Napi::Uint32Array>();
    auto bytes = o.Get("tokenBytes").As<Napi::Uint8Array>();
    LlgTokenizerInit ti;
    std::memset(&ti, 0, sizeof ti);
    ti.vocab_size = (uint32_t)lens.ElementLength();
    ti.tok_eos = o.Get("eos").As<Napi::Number>().Uint32Value();
    ti.token_lens = lens.Data();
    ti.token_bytes = bytes.Data();
    ti.use_approximate_greedy_tokenize_fn = true;
    char err[1024];
    LlgTokenizer *tok = llg_new_tokenizer(&ti, err, sizeof err);
    if (!tok) throw Napi::Error::New(env, std::string("grammar tokenizer: ") + err);
    return Napi::External<Tokenizer>::New(env, new Tokenizer{tok}, [](Napi::Env, Tokenizer *p) { delete p; });
}

// grammarMatcher(tokenizer, kind, grammar): kind is "json_schema", "regex" or "lark".
Napi::Value grammar_matcher(const Napi::CallbackInfo &info) {
    Tokenizer *t = unwrap<Tokenizer>(info[0], "tokenizer");
    std::string kind = info[1].As<Napi::String>();
    std::string grammar = info[2].As<Napi::String>();
    LlgConstraintInit ci;
    llg_constraint_init_set_defaults(&ci, t->tok);
    ci.ff_tokens_ok = false;
    ci.log_stderr_level = 0;  // errors reach the caller as exceptions
    return wrap_matcher(info.Env(), llg_new_matcher(&ci, kind.c_str(), grammar.c_str()));
}

Napi::Value grammar_clone(const Napi::CallbackInfo &info) {
    return wrap_matcher(info.Env(), llg_clone_matcher(matcher_arg(info)->m));
}

// grammarMask(matcher, out: Uint32Array): the next-token mask into out (one bit per token).
Napi::Value grammar_mask(const Napi::CallbackInfo &info) {
    Matcher *m = matcher_arg(info);
    auto out = info[1].As<Napi::Uint32Array>();
    size_t need = llg_matcher_get_mask_byte_size(m->m);
    if (out.ByteLength() != need)
        throw Napi::RangeError::New(info.Env(), "mask needs " + std::to_string(need) + " bytes");
    check(info.Env(), m, llg_matcher_compute_mask_into(m->m, out.Data(), need));
    return info.Env().Undefined();
}

Napi::Value grammar_consume(const Napi::CallbackInfo &info) {
    Matcher *m = matcher_arg(info);
    check(info.Env(), m, llg_matcher_consume_token(m->m, info[1].As<Napi::Number>().Uint32Value()));
    return info.Env().Undefined();
}

// grammarForced(matcher): the tokens the grammar forces next (jump-forward), without consuming.
Napi::Value grammar_forced(const Napi::CallbackInfo &info) {
    Matcher *m = matcher_arg(info);
    uint32_t buf[256];
    int32_t n = llg_matcher_compute_ff_tokens(m->m, buf, 256);
    if (n < 0) check(info.Env(), m, n);
    auto out = Napi::Uint32Array::New(info.Env(), n);
    std::memcpy(out.Data(), buf, n * sizeof(uint32_t));
    return out;
}

Napi::Value grammar_stopped(const Napi::CallbackInfo &info) {
    return Napi::Boolean::New(info.Env(), llg_matcher_is_stopped(matcher_arg(info)->m));
}

Napi::Value grammar_accepting(const Napi::CallbackInfo &info) {
    return Napi::Boolean::New(info.Env(), llg_matcher_is_accepting(matcher_arg(info)->m));
}

Napi::Value grammar_mask_bytes(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), (double)llg_matcher_get_mask_byte_size(matcher_arg(info)->m));
}

}  // namespace

void rs_grammar_register(Napi::Env env, Napi::Object exports) {
    exports.Set("grammarAvailable", Napi::Boolean::New(env, true));
    exports.Set("grammarTokenizer", Napi::Function::New(env, grammar_tokenizer));
    exports.Set("grammarMatcher", Napi::Function::New(env, grammar_matcher));
    exports.Set("grammarClone", Napi::Function::New(env, grammar_clone));
    exports.Set("grammarMask", Napi::Function::New(env, grammar_mask));
    exports.Set("grammarMaskBytes", Napi::Function::New(env, grammar_mask_bytes));
    exports.Set("grammarConsume", Napi::Function::New(env, grammar_consume));
    exports.Set("grammarForced", Napi::Function::New(env, grammar_forced));
    exports.Set("grammarStopped", Napi::Function::New(env, grammar_stopped));
    exports.Set("grammarAccepting", Napi::Function::New(env, grammar_accepting));
}

#else

void rs_grammar_register(Napi::Env env, Napi::Object exports) {
    exports.Set("grammarAvailable", Napi::Boolean::New(env, false));
}

#endif
