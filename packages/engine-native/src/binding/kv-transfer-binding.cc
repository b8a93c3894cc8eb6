// N-API surface of the KV data plane (native/kv-transfer-*): CRC-32C, engine export/import with
// the checksum computed in the same pass, to and from JS buffers or native regions (shm mappings,
// tcp receive regions), and the tcp sender/listener. Registered by addon.cc.
#include "kv-transfer-binding.h"

#include <napi.h>

#include <cstring>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "native/engine.h"
#include "native/kv-transfer-crc.h"
#include "native/kv-transfer-pool.h"

namespace {

rs_engine *(*engine_of)(const Napi::Value &) = nullptr;

void region_finalize(Napi::Env, region_handle *h) {
    delete h;
}

std::vector<int32_t> ids_of(const Napi::Value &v) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw Napi::TypeError::New(v.Env(), "blockIds must be an Int32Array");
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

// Where an export writes or an import reads: [ptr, ptr + len) inside a buffer or a region, checked.
struct span_ref {
    uint8_t *ptr = nullptr;
    std::shared_ptr<rs_kv_region> region;  // held by the operation: a close() meanwhile cannot unmap it
};

span_ref span_of(const Napi::Value &v, double offset, size_t len, const char *what) {
    Napi::Env env = v.Env();
    if (!(offset >= 0) || offset != (double)(uint64_t)offset)
        throw Napi::RangeError::New(env, std::string(what) + " offset must be a non-negative integer");
    uint8_t *base;
    size_t size;
    span_ref s;
    if (v.IsExternal()) {
        s.region = rs_region_of(v);
        base = s.region->data;
        size = s.region->size;
    } else if (v.IsTypedArray()) {
        Napi::TypedArray a = v.As<Napi::TypedArray>();
        base = (uint8_t *)a.ArrayBuffer().Data() + a.ByteOffset();
        size = a.ByteLength();
    } else {
        throw Napi::TypeError::New(env, std::string(what) + " must be a Uint8Array or a KV region");
    }
    if ((uint64_t)offset > size || len > size - (size_t)offset)
        throw Napi::RangeError::New(env, std::string(what) + " [" + std::to_string((uint64_t)offset) + ", +" +
                                             std::to_string(len) + ") is outside its " +
                                             std::to_string(size) + " bytes");
    s.ptr = base + (size_t)offset;
    return s;
}

// Runs one export/import off the JS thread; resolves with the CRC-32C of the bytes moved.
class crc_worker : public Napi::AsyncWorker {
  public:
    crc_worker(Napi::Env env, Napi::Value handle, Napi::Value target, std::shared_ptr<rs_kv_region> region,
               std::function<uint32_t()> fn)
        : Napi::AsyncWorker(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          fn_(std::move(fn)),
          region_(std::move(region)) {
        handle_ref_ = Napi::Persistent(handle.As<Napi::Object>());
        target_ref_ = Napi::Persistent(target.As<Napi::Object>());
    }
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
        try {
            crc_ = fn_();
        } catch (const std::exception &e) {
            SetError(e.what());
        }
    }
    void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), crc_)); }
    void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

  private:
    Napi::Promise::Deferred deferred_;
    std::function<uint32_t()> fn_;
    std::shared_ptr<rs_kv_region> region_;
    Napi::ObjectReference handle_ref_, target_ref_;  // keep the engine and the memory alive
    uint32_t crc_ = 0;
};

Napi::Value crc32c(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "crc32c expects a Uint8Array");
    Napi::TypedArray a = info[0].As<Napi::TypedArray>();
    const uint32_t prev = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
    const uint8_t *p = (const uint8_t *)a.ArrayBuffer().Data() + a.ByteOffset();
    const bool table = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    return Napi::Number::New(
        env, table ? rs_crc32c_table(p, a.ByteLength(), prev) : rs_crc32c(p, a.ByteLength(), prev));
}

// crc32cCopyStreaming(dst, src): copies src into dst (same length) with non-temporal stores and
// returns the CRC-32C of the bytes (rs_crc32c_copy_nt, the direct shm path's kernel).
Napi::Value crc32c_copy_streaming(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || !info[1].IsTypedArray())
        throw Napi::TypeError::New(env, "crc32cCopyStreaming expects two Uint8Arrays");
    Napi::TypedArray d = info[0].As<Napi::TypedArray>();
    Napi::TypedArray s = info[1].As<Napi::TypedArray>();
    if (d.ByteLength() != s.ByteLength()) throw Napi::RangeError::New(env, "dst and src differ in length");
    uint8_t *dp = (uint8_t *)d.ArrayBuffer().Data() + d.ByteOffset();
    const uint8_t *sp = (const uint8_t *)s.ArrayBuffer().Data() + s.ByteOffset();
    const uint32_t crc = rs_crc32c_copy_nt(dp, sp, s.ByteLength(), 0);
#if defined(__x86_64__)
    _mm_sfence();
#endif
    return Napi::Number::New(env, crc);
}

Napi::Value crc32c_impl(const Napi::CallbackInfo &info) {
    return Napi::String::New(info.Env(), rs_crc32c_impl());
}

Napi::Value engine_export_into(const Napi::CallbackInfo &info) {
    rs_engine *e = engine_of(info[0]);
    std::vector<int32_t> ids = ids_of(info[1]);
    const size_t len = ids.size() * e->bytes_per_block;
    span_ref s = span_of(info[2], info[3].ToNumber().DoubleValue(), len, "export target");
    uint8_t *out = s.ptr;
    auto *w = new crc_worker(info.Env(), info[0], info[2], s.region, [e, ids, out, len] {
        return rs_kv_transfer_export(e, ids.data(), (int)ids.size(), out, len);
    });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

Napi::Value engine_import_from(const Napi::CallbackInfo &info) {
    rs_engine *e = engine_of(info[0]);
    std::vector<int32_t> ids = ids_of(info[1]);
    const size_t len = ids.size() * e->bytes_per_block;
    span_ref s = span_of(info[2], info[3].ToNumber().DoubleValue(), len, "import source");
    const uint8_t *in = s.ptr;
    auto *w = new crc_worker(info.Env(), info[0], info[2], s.region, [e, ids, in, len] {
        return rs_kv_transfer_import(e, ids.data(), (int)ids.size(), in, len);
    });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

// The fence slot at `slot` of `region` (a fence file), checked against the region's size.
uint8_t *fence_slot_of(const Napi::Env &env, const std::shared_ptr<rs_kv_region> &region,
                       const Napi::Value &slot) {
    const double s = slot.ToNumber().DoubleValue();
    if (!(s >= 0) || s != (double)(uint64_t)s || ((uint64_t)s + 1) * RS_KV_FENCE_SLOT_BYTES > region->size)
        throw Napi::RangeError::New(env, "fence slot " + std::to_string((int64_t)s) + " is outside the " +
                                             std::to_string(region->size) + "-byte fence file");
    return region->data + (size_t)s * RS_KV_FENCE_SLOT_BYTES;
}

// exportToPool(engine, srcIds, region, dstIds[, fenceRegion, slot, generation]): the direct shm path
// (rs_kv_transfer_export_to_pool), optionally under a fence slot of the receiver's.
Napi::Value engine_export_to_pool(const Napi::CallbackInfo &info) {
    rs_engine *e = engine_of(info[0]);
    std::vector<int32_t> src = ids_of(info[1]);
    std::vector<int32_t> dst = ids_of(info[3]);
    if (src.size() != dst.size())
        throw Napi::RangeError::New(info.Env(), "exportToPool: srcIds and dstIds differ in length");
    std::shared_ptr<rs_kv_region> region = rs_region_of(info[2]);
    uint8_t *pool = region->data;
    const size_t len = region->size;
    std::shared_ptr<rs_kv_region> fence;  // captured by the lambda: the mapping outlives the call
    uint8_t *slot = nullptr;
    uint32_t gen = 0;
    if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()) {
        fence = rs_region_of(info[4]);
        slot = fence_slot_of(info.Env(), fence, info[5]);
        gen = info[6].ToNumber().Uint32Value();
    }
    auto *w =
        new crc_worker(info.Env(), info[0], info[2], region, [e, src, dst, pool, len, fence, slot, gen] {
            return rs_kv_transfer_export_to_pool(e, src.data(), dst.data(), (int)src.size(), pool, len, slot,
                                                 gen);
        });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

// regionFenceOpen(region, slot, generation)
Napi::Value region_fence_open(const Napi::CallbackInfo &info) {
    std::shared_ptr<rs_kv_region> r = rs_region_of(info[0]);
    rs_kv_fence_open(fence_slot_of(info.Env(), r, info[1]), info[2].ToNumber().Uint32Value());
    return info.Env().Undefined();
}

// regionFenceRevoke(region, slot, generation) -> 0 (nothing can write) or the writer's pid (-1: unknown yet)
Napi::Value region_fence_revoke(const Napi::CallbackInfo &info) {
    std::shared_ptr<rs_kv_region> r = rs_region_of(info[0]);
    return Napi::Number::New(info.Env(), (double)rs_kv_fence_revoke(fence_slot_of(info.Env(), r, info[1]),
                                                                    info[2].ToNumber().Uint32Value()));
}

Napi::Value engine_crc_blocks(const Napi::CallbackInfo &info) {
    rs_engine *e = engine_of(info[0]);
    std::vector<int32_t> ids = ids_of(info[1]);
    auto *w = new crc_worker(info.Env(), info[0], info[0], nullptr,
                             [e, ids] { return rs_kv_transfer_crc_blocks(e, ids.data(), (int)ids.size()); });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

Napi::Value region_open_shm(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsNumber())
        throw Napi::TypeError::New(env, "regionOpenShm(path, size, create[, memfdName])");
    const double size = info[1].As<Napi::Number>().DoubleValue();
    if (!(size >= 0) || size != (double)(uint64_t)size)
        throw Napi::RangeError::New(env, "region size must be a non-negative integer (0: the file's size)");
    try {
        const std::string memfd_name =
            info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
        return rs_region_wrap(env, rs_kv_region_open_shm(info[0].As<Napi::String>().Utf8Value(), (size_t)size,
                                                         info[2].ToBoolean().Value(), memfd_name));
    } catch (const std::exception &e) {
        throw Napi::Error::New(env, e.what());
    }
}

Napi::Value region_close(const Napi::CallbackInfo &info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "expected a KV region handle");
    info[0].As<Napi::External<region_handle>>().Data()->region.reset();
    return info.Env().Undefined();
}

Napi::Value region_alloc(const Napi::CallbackInfo &info) {
    const double size = info[0].ToNumber().DoubleValue();
    if (!(size >= 1) || size != (double)(uint64_t)size)
        throw Napi::RangeError::New(info.Env(), "region size must be a positive integer");
    try {
        return rs_region_wrap(info.Env(), rs_kv_region_alloc((size_t)size));
    } catch (const std::exception &e) {
        throw Napi::Error::New(info.Env(), e.what());
    }
}

Napi::Value region_path(const Napi::CallbackInfo &info) {
    return Napi::String::New(info.Env(), rs_region_of(info[0])->path);
}

Napi::Value region_size(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), (double)rs_region_of(info[0])->size);
}

// Copies data into the region at offset (a JS-bytes fallback; the native paths never go through JS).
Napi::Value region_write(const Napi::CallbackInfo &info) {
    if (!info[2].IsTypedArray())
        throw Napi::TypeError::New(info.Env(), "regionWrite data must be a Uint8Array");
    Napi::TypedArray a = info[2].As<Napi::TypedArray>();
    span_ref s = span_of(info[0], info[1].ToNumber().DoubleValue(), a.ByteLength(), "region write");
    std::memcpy(s.ptr, (const uint8_t *)a.ArrayBuffer().Data() + a.ByteOffset(), a.ByteLength());
    return info.Env().Undefined();
}

// Copies [offset, +len) of a region into a new Buffer (tests, and reading a chunk for a JS consumer).
Napi::Value region_read(const Napi::CallbackInfo &info) {
    const double len = info[2].ToNumber().DoubleValue();
    if (!(len >= 0)) throw Napi::RangeError::New(info.Env(), "length must be >= 0");
    span_ref s = span_of(info[0], info[1].ToNumber().DoubleValue(), (size_t)len, "region read");
    return Napi::Buffer<uint8_t>::Copy(info.Env(), s.ptr, (size_t)len);
}

}  // namespace

rs_engine *rs_binding_engine_of(const Napi::Value &v) {
    return engine_of(v);
}

std::shared_ptr<rs_kv_region> rs_region_of(const Napi::Value &v) {
    if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected a KV region handle");
    std::shared_ptr<rs_kv_region> r = v.As<Napi::External<region_handle>>().Data()->region;
    if (!r) throw Napi::Error::New(v.Env(), "KV region has been closed");
    return r;
}

Napi::Value rs_region_wrap_shared(Napi::Env env, std::shared_ptr<rs_kv_region> r) {
    auto *h = new region_handle();
    h->region = std::move(r);
    return Napi::External<region_handle>::New(env, h, region_finalize);
}

Napi::Value rs_region_wrap(Napi::Env env, rs_kv_region *r) {
    return rs_region_wrap_shared(env, std::shared_ptr<rs_kv_region>(r, rs_kv_region_free));
}

void rs_kv_transfer_register(Napi::Env env, Napi::Object exports,
                             rs_engine *(*get_engine)(const Napi::Value &)) {
    engine_of = get_engine;
    exports.Set("crc32c", Napi::Function::New(env, crc32c));
    exports.Set("crc32cImpl", Napi::Function::New(env, crc32c_impl));
    exports.Set("crc32cCopyStreaming", Napi::Function::New(env, crc32c_copy_streaming));
    exports.Set("engineExportInto", Napi::Function::New(env, engine_export_into));
    exports.Set("engineImportFrom", Napi::Function::New(env, engine_import_from));
    exports.Set("engineExportToPool", Napi::Function::New(env, engine_export_to_pool));
    exports.Set("engineCrcBlocks", Napi::Function::New(env, engine_crc_blocks));
    exports.Set("regionOpenShm", Napi::Function::New(env, region_open_shm));
    exports.Set("regionClose", Napi::Function::New(env, region_close));
    exports.Set("regionRead", Napi::Function::New(env, region_read));
    exports.Set("regionAlloc", Napi::Function::New(env, region_alloc));
    exports.Set("regionSize", Napi::Function::New(env, region_size));
    exports.Set("regionPath", Napi::Function::New(env, region_path));
    exports.Set("regionWrite", Napi::Function::New(env, region_write));
    exports.Set("regionFenceOpen", Napi::Function::New(env, region_fence_open));
    exports.Set("regionFenceRevoke", Napi::Function::New(env, region_fence_revoke));
    rs_kv_transfer_register_tcp(env, exports);
}
