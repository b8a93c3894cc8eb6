// The N-API surface of the engine. Only this folder includes napi.h: arguments arrive validated by
// the TypeScript wrapper, are copied into plain C++ structs on the JS thread, and the work runs in
// an AsyncWorker (no V8 calls off the main thread). Engine exceptions become rejected Promises.
#include <napi.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <thread>

#include "grammar-binding.h"
#include "kv-transfer-binding.h"
#include "native/engine.h"
#include "native/kv-transfer-pool.h"
#include "quant-binding.h"

namespace {

struct engine_handle {
    rs_engine *engine = nullptr;
};

void handle_finalize(Napi::Env, engine_handle *h) {
    // A handle collected without free(): release what it still holds (once no transfer holds it).
    if (h->engine && !rs_kv_transfer_defer_free(h->engine)) rs_engine_free(h->engine);
    delete h;
}

engine_handle *get_handle(const Napi::Value &v) {
    if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected an engine handle");
    engine_handle *h = v.As<Napi::External<engine_handle>>().Data();
    if (!h->engine) throw Napi::Error::New(v.Env(), "engine has been freed");
    return h;
}

double num(const Napi::Object &o, const char *key, double def) {
    Napi::Value v = o.Get(key);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
}

std::string str(const Napi::Object &o, const char *key, const std::string &def) {
    Napi::Value v = o.Get(key);
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : def;
}

// A typed array argument as a vector (absent = empty); `type` and `type_name` say which kind is required.
template <typename T, typename A>
std::vector<T> typed_vector(const Napi::Value &v, napi_typedarray_type type, const char *what,
                            const char *type_name) {
    if (v.IsUndefined() || v.IsNull()) return {};
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
        throw Napi::TypeError::New(v.Env(), std::string(what) + " must be " + type_name);
    A a = v.As<A>();
    return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<float> float32s(const Napi::Value &v, const char *what) {
    return typed_vector<float, Napi::Float32Array>(v, napi_float32_array, what, "a Float32Array");
}

std::vector<uint32_t> uint32s(const Napi::Value &v, const char *what) {
    return typed_vector<uint32_t, Napi::Uint32Array>(v, napi_uint32_array, what, "a Uint32Array");
}

std::vector<int32_t> int32s(const Napi::Value &v, const char *what) {
    return typed_vector<int32_t, Napi::Int32Array>(v, napi_int32_array, what, "an Int32Array");
}

rs_dtype dtype_of(Napi::Env env, const std::string &s) {
    for (int t = RS_DTYPE_F32; t <= RS_DTYPE_LAST; t++)
        if (s == rs_dtype_name((rs_dtype)t)) return (rs_dtype)t;
    throw Napi::TypeError::New(env, "unknown dtype '" + s + "'");
}

rs_tensor_desc tensor_desc(const Napi::Object &t) {
    rs_tensor_desc d;
    d.name = str(t, "name", "");
    d.file = str(t, "file", "");
    d.dtype = dtype_of(t.Env(), str(t, "dtype", ""));
    const std::string quantize = str(t, "quantize", "");
    d.quantize = quantize.empty() ? d.dtype : dtype_of(t.Env(), quantize);
    Napi::Array shape = t.Get("shape").As<Napi::Array>();
    for (uint32_t j = 0; j < shape.Length(); j++)
        d.shape.push_back((int64_t)shape.Get(j).As<Napi::Number>().DoubleValue());
    d.offset = (uint64_t)num(t, "offset", 0);
    d.nbytes = (uint64_t)num(t, "nbytes", 0);
    d.split = (rs_split)(int)num(t, "split", 0);
    d.tp_rank = (int)num(t, "tpRank", 0);
    d.tp_size = (int)num(t, "tpSize", 1);
    return d;
}

// Base for the workers: keeps the engine handle alive and turns exceptions into rejections.
class engine_worker : public Napi::AsyncWorker {
  public:
    engine_worker(Napi::Env env, Napi::Value handle)
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {
        if (handle.IsExternal()) handle_ref_ = Napi::Persistent(handle.As<Napi::Object>());
    }
    Napi::Promise promise() { return deferred_.Promise(); }

  protected:
    void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference handle_ref_;
};

class init_worker : public engine_worker {
  public:
    init_worker(Napi::Env env, rs_engine_params p)
        : engine_worker(env, env.Undefined()), params_(std::move(p)) {}
    void Execute() override {
        try {
            engine_ = rs_engine_init(params_);
        } catch (const std::exception &e) {
            SetError(e.what());
        }
    }
    void OnOK() override {
        auto *h = new engine_handle();
        h->engine = engine_;
        deferred_.Resolve(Napi::External<engine_handle>::New(Env(), h, handle_finalize));
    }

  private:
    rs_engine_params params_;
    rs_engine *engine_ = nullptr;
};

Napi::Value create_engine(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "createEngine expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Object c = o.Get("config").As<Napi::Object>();
    rs_engine_params p;
    rs_model_config &m = p.config;
    m.vocab_size = (int)num(c, "vocabSize", 0);
    m.hidden_size = (int)num(c, "hiddenSize", 0);
    m.intermediate_size = (int)num(c, "intermediateSize", 0);
    m.n_layers = (int)num(c, "numLayers", 0);
    m.n_heads = (int)num(c, "numHeads", 0);
    m.n_kv_heads = (int)num(c, "numKvHeads", 0);
    m.head_dim = (int)num(c, "headDim", 0);
    m.max_position_embeddings = (int)num(c, "maxPositionEmbeddings", 0);
    m.rope_theta = (float)num(c, "ropeTheta", 10000);
    m.rms_norm_eps = (float)num(c, "rmsNormEps", 1e-6);
    m.tie_word_embeddings = c.Get("tieWordEmbeddings").ToBoolean();
    m.rope_scaling =
        str(c, "ropeScalingType", "") == "llama3" ? RS_ROPE_SCALING_LLAMA3 : RS_ROPE_SCALING_NONE;
    m.rope_factor = (float)num(c, "ropeFactor", 1);
    m.rope_low_freq_factor = (float)num(c, "ropeLowFreqFactor", 1);
    m.rope_high_freq_factor = (float)num(c, "ropeHighFreqFactor", 4);
    m.rope_original_max_position = (int)num(c, "ropeOriginalMaxPosition", 8192);
    m.rope_interleaved = c.Get("ropeInterleaved").ToBoolean();
    m.quant_exact = o.Get("quantExact").ToBoolean();
    // The engine holds every rank of its tensor-parallel group (one thread each); it sets each
    // rank's tp_rank itself.
    p.tp_size = (int)num(o, "tpSize", 1);
    p.collective = str(o, "collective", "cpu");
    p.backend = str(o, "backend", "cpu");
    p.cuda_library = str(o, "cudaLibrary", "");
    p.kv_shm_path = str(o, "kvPoolShmPath", "");
    Napi::Array tensors = o.Get("tensors").As<Napi::Array>();
    for (uint32_t i = 0; i < tensors.Length(); i++)
        p.tensors.push_back(tensor_desc(tensors.Get(i).As<Napi::Object>()));
    p.kv_dtype = dtype_of(env, str(o, "kvDtype", "f32"));
    p.num_blocks = (int)num(o, "numBlocks", 0);
    p.block_size = (int)num(o, "blockSize", 16);
    p.n_threads = (int)num(o, "threads", 1);
    p.simd = str(o, "simd", "auto");
    auto *w = new init_worker(env, std::move(p));
    Napi::Promise promise = w->promise();
    w->Queue();
    return promise;
}

Napi::Value engine_info(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    rs_engine *e = get_handle(info[0])->engine;
    Napi::Object o = Napi::Object::New(env);
    o.Set("simd", e->kernels->name);
    o.Set("bytesPerBlock", (double)e->bytes_per_block);
    o.Set("numBlocks", e->num_blocks);
    o.Set("weightBytes", (double)e->weight_bytes);
    o.Set("threads", e->n_threads);
    o.Set("tpSize", (double)e->ranks.size());
    o.Set("collective", e->coll->iface->name);
    o.Set("backend", e->ranks[0]->iface->name);
    o.Set("kvPoolPath", e->ranks[0]->kv_shared_path);
    return o;
}

// {token, logprob, topTokens?, topLogprobs?} for one sampled token.
Napi::Object sample_object(Napi::Env env, const rs_sample_result &s) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("token", s.token);
    r.Set("logprob", s.logprob);
    if (!s.top.empty()) {
        Napi::Int32Array tt = Napi::Int32Array::New(env, s.top.size());
        Napi::Float32Array tl = Napi::Float32Array::New(env, s.top.size());
        for (size_t j = 0; j < s.top.size(); j++) {
            tt[j] = s.top[j].first;
            tl[j] = s.top[j].second;
        }
        r.Set("topTokens", tt);
        r.Set("topLogprobs", tl);
    }
    return r;
}

// Prompt logprobs as flat typed arrays: targetLogprobs[j] (NaN where not asked) and, with
// alternatives, targetTopTokens / targetTopLogprobs as [tokens, top_n] rows (-1 / NaN padding).
static void set_target_logprobs(Napi::Env env, Napi::Object &r, const std::vector<rs_sample_result> &t) {
    size_t top_n = 0;
    for (const rs_sample_result &x : t) top_n = std::max(top_n, x.top.size());
    Napi::Float32Array lp = Napi::Float32Array::New(env, t.size());
    Napi::Int32Array tt = Napi::Int32Array::New(env, t.size() * top_n);
    Napi::Float32Array tl = Napi::Float32Array::New(env, t.size() * top_n);
    for (size_t j = 0; j < t.size(); j++) {
        lp[j] = t[j].token < 0 ? std::numeric_limits<float>::quiet_NaN() : t[j].logprob;
        for (size_t k = 0; k < top_n; k++) {
            const bool has = k < t[j].top.size();
            tt[j * top_n + k] = has ? t[j].top[k].first : -1;
            tl[j * top_n + k] = has ? t[j].top[k].second : std::numeric_limits<float>::quiet_NaN();
        }
    }
    r.Set("targetLogprobs", lp);
    if (top_n > 0) {
        r.Set("targetTopTokens", tt);
        r.Set("targetTopLogprobs", tl);
    }
}

class step_worker : public engine_worker {
  public:
    step_worker(Napi::Env env, Napi::Value handle, rs_engine *e, std::vector<rs_step_seq> seqs)
        : engine_worker(env, handle), engine_(e), seqs_(std::move(seqs)) {}
    void Execute() override {
        try {
            out_ = rs_engine_step(engine_, seqs_);
        } catch (const std::exception &e) {
            SetError(e.what());
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        Napi::Array arr = Napi::Array::New(env, out_.size());
        for (size_t i = 0; i < out_.size(); i++) {
            const rs_step_output &o = out_[i];
            if (!o.present) {
                arr.Set((uint32_t)i, env.Null());
                continue;
            }
            Napi::Object r = sample_object(env, o.sample);
            if (!o.verified.empty()) {
                Napi::Array v = Napi::Array::New(env, o.verified.size());
                for (size_t j = 0; j < o.verified.size(); j++)
                    v.Set((uint32_t)j, sample_object(env, o.verified[j]));
                r.Set("verified", v);
            }
            if (!o.logits.empty()) {
                Napi::Float32Array l = Napi::Float32Array::New(env, o.logits.size());
                std::memcpy(l.Data(), o.logits.data(), o.logits.size() * sizeof(float));
                r.Set("logits", l);
            }
            if (!o.target_logprobs.empty()) set_target_logprobs(env, r, o.target_logprobs);
            arr.Set((uint32_t)i, r);
        }
        deferred_.Resolve(arr);
    }

  private:
    rs_engine *engine_;
    std::vector<rs_step_seq> seqs_;
    std::vector<rs_step_output> out_;
};

Napi::Value engine_step(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    rs_engine *e = get_handle(info[0])->engine;
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "step expects an array of sequences");
    Napi::Array arr = info[1].As<Napi::Array>();
    std::vector<rs_step_seq> seqs(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Object s = arr.Get(i).As<Napi::Object>();
        rs_step_seq &q = seqs[i];
        q.tokens = int32s(s.Get("tokens"), "tokens");
        q.start_pos = (int)num(s, "startPos", 0);
        q.block_table = int32s(s.Get("blockTable"), "blockTable");
        q.sample = s.Get("sample").ToBoolean();
        q.prompt_tokens = int32s(s.Get("promptTokens"), "promptTokens");
        q.output_tokens = int32s(s.Get("outputTokens"), "outputTokens");
        q.logits_mode = (rs_logits_mode)(int)num(s, "logitsMode", 0);
        q.num_draft = (int)num(s, "numDraft", 0);
        q.logprob_targets = int32s(s.Get("logprobTargets"), "logprobTargets");
        q.logprob_top_n = (int)num(s, "logprobTopN", 0);
        Napi::Value sp = s.Get("sampling");
        if (sp.IsObject()) {
            Napi::Object p = sp.As<Napi::Object>();
            q.sampling.temperature = (float)num(p, "temperature", 0);
            q.sampling.top_k = (int)num(p, "topK", 0);
            q.sampling.top_p = (float)num(p, "topP", 1);
            q.sampling.min_p = (float)num(p, "minP", 0);
            q.sampling.repetition_penalty = (float)num(p, "repetitionPenalty", 1);
            q.sampling.frequency_penalty = (float)num(p, "frequencyPenalty", 0);
            q.sampling.presence_penalty = (float)num(p, "presencePenalty", 0);
            q.sampling.seed = (uint64_t)num(p, "seed", 0);
            q.sampling.logprobs = (int)num(p, "logprobs", -1);
            q.sampling.bias_tokens = int32s(p.Get("biasTokens"), "biasTokens");
            q.sampling.bias_values = float32s(p.Get("biasValues"), "biasValues");
            if (q.sampling.bias_tokens.size() != q.sampling.bias_values.size())
                throw Napi::TypeError::New(env, "biasTokens and biasValues differ in length");
            q.sampling.allowed = uint32s(p.Get("allowedTokens"), "allowedTokens");
        }
    }
    auto *w = new step_worker(env, info[0], e, std::move(seqs));
    Napi::Promise promise = w->promise();
    w->Queue();
    return promise;
}

// Export / import / copy share one worker: a small function object runs off the JS thread.
class blocks_worker : public engine_worker {
  public:
    blocks_worker(Napi::Env env, Napi::Value handle, std::function<void()> fn, Napi::Value result)
        : engine_worker(env, handle), fn_(std::move(fn)) {
        if (!result.IsUndefined()) result_ = Napi::Persistent(result.As<Napi::Object>());
    }
    void Execute() override {
        try {
            fn_();
        } catch (const std::exception &e) {
            SetError(e.what());
        }
    }
    void OnOK() override { deferred_.Resolve(result_.IsEmpty() ? Env().Undefined() : result_.Value()); }

  private:
    std::function<void()> fn_;
    Napi::ObjectReference result_;  // also keeps the buffer being read or written alive
};

Napi::Value engine_export(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    rs_engine *e = get_handle(info[0])->engine;
    std::vector<int32_t> blocks = int32s(info[1], "blockIds");
    const size_t len = blocks.size() * e->bytes_per_block;
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, len);
    uint8_t *data = buf.Data();
    auto *w = new blocks_worker(
        env, info[0], [e, blocks, data, len] { rs_engine_export(e, blocks, data, len); }, buf);
    Napi::Promise promise = w->promise();
    w->Queue();
    return promise;
}

Napi::Value engine_import(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    rs_engine *e = get_handle(info[0])->engine;
    std::vector<int32_t> blocks = int32s(info[1], "blockIds");
    if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "importBlocks data must be a Uint8Array");
    Napi::TypedArray arr = info[2].As<Napi::TypedArray>();
    const uint8_t *data = (const uint8_t *)arr.ArrayBuffer().Data() + arr.ByteOffset();
    const size_t len = arr.ByteLength();
    auto *w = new blocks_worker(
        env, info[0], [e, blocks, data, len] { rs_engine_import(e, blocks, data, len); }, arr);
    Napi::Promise promise = w->promise();
    w->Queue();
    return promise;
}

Napi::Value engine_copy(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    rs_engine *e = get_handle(info[0])->engine;
    std::vector<int32_t> src = int32s(info[1], "src");
    std::vector<int32_t> dst = int32s(info[2], "dst");
    auto *w = new blocks_worker(
        env, info[0], [e, src, dst] { rs_engine_copy(e, src, dst); }, env.Undefined());
    Napi::Promise promise = w->promise();
    w->Queue();
    return promise;
}

Napi::Value engine_free(const Napi::CallbackInfo &info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "expected an engine handle");
    engine_handle *h = info[0].As<Napi::External<engine_handle>>().Data();
    if (h->engine && h->engine->busy.load())
        throw Napi::Error::New(info.Env(), "engine is busy: free it after its pending calls settle");
    // A tcp transfer still writing into the pool holds it: it is freed when the transfer ends.
    if (h->engine && !rs_kv_transfer_defer_free(h->engine)) rs_engine_free(h->engine);
    h->engine = nullptr;
    return info.Env().Undefined();
}

// Test hook: this rank's slice of a weight given as raw bytes (exercises the TP loader).
Napi::Value slice_weight(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    rs_tensor_desc d = tensor_desc(o);
    Napi::TypedArray bytes = o.Get("bytes").As<Napi::TypedArray>();
    d.offset = 0;
    d.nbytes = bytes.ByteLength();
    rs_weight w;
    try {
        rs_weight_from_bytes(d, (const uint8_t *)bytes.ArrayBuffer().Data() + bytes.ByteOffset(), &w);
    } catch (const std::exception &e) {
        throw Napi::Error::New(env, e.what());
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("rows", (double)w.rows);
    r.Set("cols", (double)w.cols);
    r.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, (const uint8_t *)w.data, w.nbytes()));
    return r;
}

// Test hook: runs the CPU collective with `ranks` threads. Rank r's buffer starts as
// r * 1000 + i (i < n); each round all-reduces it, then broadcasts it from rank (round % ranks) after
// that rank added 0.5, with a barrier between rounds. Returns every rank's final buffer.
Napi::Value collective_test(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    const int ranks = (int)num(o, "ranks", 2);
    const size_t n = (size_t)num(o, "n", 16);
    const int rounds = (int)num(o, "rounds", 1);
    if (ranks < 1 || ranks > 64 || n > (1u << 24) || rounds < 0)
        throw Napi::RangeError::New(env, "collectiveTest: ranks 1..64, n < 2^24, rounds >= 0");
    std::vector<std::vector<float>> bufs((size_t)ranks, std::vector<float>(n));
    try {
        std::unique_ptr<rs_collective, void (*)(rs_collective *)> c(rs_collective_init("cpu", ranks),
                                                                    rs_collective_free);
        std::vector<std::thread> threads;
        for (int r = 0; r < ranks; r++) {
            threads.emplace_back([&, r] {
                std::vector<float> &b = bufs[(size_t)r];
                for (size_t i = 0; i < n; i++) b[i] = (float)(r * 1000 + (int)i);
                for (int k = 0; k < rounds; k++) {
                    c->iface->all_reduce_sum(c.get(), r, b.data(), n);
                    const int root = k % ranks;
                    if (r == root)
                        for (auto &x : b) x += 0.5f;
                    c->iface->broadcast(c.get(), r, b.data(), n * sizeof(float), root);
                    c->iface->barrier(c.get(), r);
                }
            });
        }
        for (auto &t : threads) t.join();
    } catch (const std::exception &e) {
        throw Napi::Error::New(env, e.what());
    }
    Napi::Array out = Napi::Array::New(env, (size_t)ranks);
    for (int r = 0; r < ranks; r++) {
        Napi::Float32Array a = Napi::Float32Array::New(env, n);
        std::memcpy(a.Data(), bufs[(size_t)r].data(), n * sizeof(float));
        out.Set((uint32_t)r, a);
    }
    return out;
}

Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
    exports.Set("createEngine", Napi::Function::New(env, create_engine));
    exports.Set("engineInfo", Napi::Function::New(env, engine_info));
    exports.Set("engineStep", Napi::Function::New(env, engine_step));
    exports.Set("engineExport", Napi::Function::New(env, engine_export));
    exports.Set("engineImport", Napi::Function::New(env, engine_import));
    exports.Set("engineCopy", Napi::Function::New(env, engine_copy));
    exports.Set("engineFree", Napi::Function::New(env, engine_free));
    exports.Set("sliceWeight", Napi::Function::New(env, slice_weight));
    exports.Set("collectiveTest", Napi::Function::New(env, collective_test));
    rs_kv_transfer_register(env, exports, [](const Napi::Value &v) { return get_handle(v)->engine; });
    rs_quant_register(env, exports);
    rs_grammar_register(env, exports);
    return exports;
}

}  // namespace

NODE_API_MODULE(radixserve_engine, init_addon)
