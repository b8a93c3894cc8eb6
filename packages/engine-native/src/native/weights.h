// Weights: memory-mapped safetensors files used in place, plus tensor-parallel slicing.
// TypeScript has already parsed and validated the headers; it hands over plain descriptors and
// this file re-checks bounds cheaply before any pointer is formed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

// How a tensor is divided between tensor-parallel ranks.
enum rs_split {
    RS_SPLIT_NONE = 0,
    RS_SPLIT_COLUMN = 1,  // W[out, in]: this rank takes rows out/tp_size * rank .. (contiguous, zero-copy)
    RS_SPLIT_ROW = 2,     // W[out, in]: this rank takes columns in/tp_size * rank .. (copied)
};

struct rs_tensor_desc {
    std::string name;
    std::string file;
    rs_dtype dtype = RS_DTYPE_F32;
    std::vector<int64_t> shape;  // as stored in the file (1-D or 2-D)
    uint64_t offset = 0;         // absolute byte offset of the data in `file`
    uint64_t nbytes = 0;
    rs_split split = RS_SPLIT_NONE;
    // A block-quantized type to quantize this rank's slice to at load time (equal to dtype: none).
    rs_dtype quantize = RS_DTYPE_F32;
    int tp_rank = 0;
    int tp_size = 1;
};

// A 2-D weight W[rows, cols] row-major (1-D tensors have rows = 1); a block-quantized row is
// cols / block_elems blocks. `data` points either into a mapped file or into `owned` (row splits and
// tensors quantized at load time).
struct rs_weight {
    const void *data = nullptr;
    rs_dtype dtype = RS_DTYPE_F32;
    int64_t rows = 0;
    int64_t cols = 0;
    std::vector<uint8_t> owned;
    size_t row_bytes() const { return rs_row_bytes(dtype, cols); }
    size_t nbytes() const { return (size_t)rows * row_bytes(); }
};

struct rs_mapped_file {
    std::string path;
    void *addr = nullptr;
    size_t size = 0;
};

struct rs_weight_store {
    std::vector<std::unique_ptr<rs_mapped_file>> files;
    std::map<std::string, rs_weight> weights;
    size_t bytes = 0;  // bytes of weights as used (mapped slices + owned copies)
};

rs_weight_store *rs_weight_store_init(const std::vector<rs_tensor_desc> &descs);
void rs_weight_store_free(rs_weight_store *store);

// Builds one weight (this rank's slice) from a descriptor and a base pointer to its bytes.
// Exposed for the slicing unit test.
void rs_weight_from_bytes(const rs_tensor_desc &d, const uint8_t *bytes, rs_weight *out);

// Returns the weight or nullptr when absent (optional biases).
const rs_weight *rs_weight_store_find(const rs_weight_store *store, const std::string &name);
// Returns the weight or throws a clear error naming the tensor.
const rs_weight &rs_weight_store_get(const rs_weight_store *store, const std::string &name);

// Converts a small tensor (norm weight, bias) to an owned f32 vector (dequantized when quantized).
std::vector<float> rs_weight_to_f32(const rs_weight &w);
