// Test and bench hooks of the quantized-weight code: dequantize and quantize rows, run one kernel
// set's matmul (quantized or exact path) on a weight given as bytes, and probe the memory read
// bandwidth that batch-1 decode of quantized weights is bounded by. The kernel tests compare every SIMD
// level with the reference kernel through these, and the GGUF tests compare the dequantizer with
// an independent one.
#include "quant-binding.h"

#include <napi.h>

#include "native/bandwidth-probe.h"
#include "native/kernels.h"
#include "native/quant.h"

namespace {

rs_dtype quant_dtype(const Napi::Object &o) {
    const std::string s = o.Get("dtype").As<Napi::String>().Utf8Value();
    for (int t = RS_DTYPE_F32; t <= RS_DTYPE_LAST; t++)
        if (s == rs_dtype_name((rs_dtype)t)) return (rs_dtype)t;
    throw Napi::TypeError::New(o.Env(), "unknown dtype '" + s + "'");
}

int64_t int_of(const Napi::Object &o, const char *key) {
    return (int64_t)o.Get(key).As<Napi::Number>().DoubleValue();
}

const uint8_t *bytes_of(const Napi::Value &v, size_t *len) {
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    *len = a.ByteLength();
    return (const uint8_t *)a.ArrayBuffer().Data() + a.ByteOffset();
}

// A weight [rows, cols] of `dtype` over caller-owned bytes (size checked).
rs_weight weight_of(const Napi::Object &o, rs_dtype t) {
    rs_weight w;
    w.dtype = t;
    w.rows = int_of(o, "rows");
    w.cols = int_of(o, "cols");
    size_t len = 0;
    w.data = bytes_of(o.Get("weight"), &len);
    if (w.rows <= 0 || w.cols <= 0 || w.cols % rs_dtype_block_elems(t) != 0 || len != w.nbytes())
        throw Napi::RangeError::New(o.Env(), "weight bytes do not match rows, cols and dtype");
    return w;
}

// dequantizeRows({dtype, rows, cols, weight}) -> Float32Array [rows * cols]
Napi::Value dequantize_rows(const Napi::CallbackInfo &info) {
    Napi::Object o = info[0].As<Napi::Object>();
    const rs_weight w = weight_of(o, quant_dtype(o));
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), (size_t)(w.rows * w.cols));
    for (int64_t r = 0; r < w.rows; r++)
        rs_dequantize_row(w.dtype, (const uint8_t *)w.data + (size_t)r * w.row_bytes(),
                          out.Data() + r * w.cols, w.cols);
    return out;
}

// quantizeRows({dtype, rows, cols, x: Float32Array}) -> Buffer of rows quantized rows
Napi::Value quantize_rows(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    const rs_dtype t = quant_dtype(o);
    const int64_t rows = int_of(o, "rows"), cols = int_of(o, "cols");
    Napi::Float32Array x = o.Get("x").As<Napi::Float32Array>();
    if (!rs_dtype_is_quant(t) || cols % rs_dtype_block_elems(t) != 0 ||
        (int64_t)x.ElementLength() != rows * cols)
        throw Napi::RangeError::New(
            env, "quantizeRows: x must be rows x cols, cols whole blocks of a quantized type");
    const size_t row_bytes = rs_row_bytes(t, cols);
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, (size_t)rows * row_bytes);
    for (int64_t r = 0; r < rows; r++)
        rs_quantize_row(t, x.Data() + r * cols, out.Data() + r * row_bytes, cols);
    return out;
}

// quantMatmul({simd, exact, dtype, rows, cols, weight, x: Float32Array [nTokens * cols], nTokens})
//   -> Float32Array [nTokens * rows]: x . W^T by one kernel table's matmul, or by the plain
//   dequantizing loop when `exact`.
Napi::Value quant_matmul(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    const rs_weight w = weight_of(o, quant_dtype(o));
    const int n_tokens = (int)int_of(o, "nTokens");
    Napi::Float32Array x = o.Get("x").As<Napi::Float32Array>();
    if (n_tokens <= 0 || (int64_t)x.ElementLength() != n_tokens * w.cols)
        throw Napi::RangeError::New(env, "quantMatmul: x must be nTokens x cols");
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)n_tokens * (size_t)w.rows);
    try {
        const rs_kernels_i &k = rs_kernels_select(o.Get("simd").As<Napi::String>().Utf8Value());
        const auto mm = o.Get("exact").ToBoolean() ? rs_matmul_dequant_ref : k.matmul;
        mm(x.Data(), n_tokens, (int)w.cols, w, 0, (int)w.rows, nullptr, y.Data(), (int)w.rows, false);
    } catch (const std::exception &e) {
        throw Napi::Error::New(env, e.what());
    }
    return y;
}

// readBandwidth(bytes, threads, reps) -> GB/s: the decode roofline's bandwidth (bench/peer).
Napi::Value read_bandwidth(const Napi::CallbackInfo &info) {
    try {
        return Napi::Number::New(info.Env(),
                                 rs_read_bandwidth_gbs((size_t)info[0].As<Napi::Number>().DoubleValue(),
                                                       info[1].As<Napi::Number>().Int32Value(),
                                                       info[2].As<Napi::Number>().Int32Value()));
    } catch (const std::exception &e) {
        throw Napi::Error::New(info.Env(), e.what());
    }
}

}  // namespace

void rs_quant_register(Napi::Env env, Napi::Object exports) {
    exports.Set("dequantizeRows", Napi::Function::New(env, dequantize_rows));
    exports.Set("quantizeRows", Napi::Function::New(env, quantize_rows));
    exports.Set("quantMatmul", Napi::Function::New(env, quant_matmul));
    exports.Set("readBandwidth", Napi::Function::New(env, read_bandwidth));
}
