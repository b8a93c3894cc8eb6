#include "weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "quant.h"

static rs_mapped_file *map_file(const std::string &path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    RS_CHECK(fd >= 0, "cannot open weight file " + path + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        RS_CHECK(false, "cannot stat weight file " + path);
    }
    auto *f = new rs_mapped_file();
    f->path = path;
    f->size = (size_t)st.st_size;
    if (f->size > 0) {
        // MAP_PRIVATE + PROT_READ: the weights are used in place and never written; pages are shared
        // with the page cache, so two engines on one file cost the memory once.
        f->addr = mmap(nullptr, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->addr == MAP_FAILED) {
            const int err = errno;
            close(fd);
            delete f;
            RS_CHECK(false, "cannot mmap weight file " + path + ": " + std::strerror(err));
        }
    }
    close(fd);
    return f;
}

void rs_weight_from_bytes(const rs_tensor_desc &d, const uint8_t *bytes, rs_weight *out) {
    RS_CHECK(d.shape.size() == 1 || d.shape.size() == 2, "tensor " + d.name + " must be 1-D or 2-D");
    RS_CHECK(d.tp_size >= 1 && d.tp_rank >= 0 && d.tp_rank < d.tp_size, "tensor " + d.name + ": bad tp rank");
    const int64_t rows = d.shape.size() == 2 ? d.shape[0] : 1;
    const int64_t cols = d.shape.size() == 2 ? d.shape[1] : d.shape[0];
    const int64_t be = rs_dtype_block_elems(d.dtype);
    RS_CHECK(rows > 0 && cols > 0 && cols % be == 0,
             "tensor " + d.name + ": rows of " + std::to_string(cols) + " values are not whole " +
                 rs_dtype_name(d.dtype) + " blocks of " + std::to_string(be));
    const size_t row_bytes = rs_row_bytes(d.dtype, cols);
    RS_CHECK((uint64_t)rows * row_bytes == d.nbytes,
             "tensor " + d.name + ": byte size does not match its shape and dtype");
    out->dtype = d.dtype;
    if (d.split == RS_SPLIT_NONE || d.tp_size == 1) {
        out->data = bytes;
        out->rows = rows;
        out->cols = cols;
        return;
    }
    if (d.split == RS_SPLIT_COLUMN) {
        // 1-D tensors (biases of column-split layers) split along their only axis.
        if (d.shape.size() == 2) {
            RS_CHECK(rows % d.tp_size == 0, "tensor " + d.name + ": output dim not divisible by tp size");
            const int64_t part = rows / d.tp_size;
            out->data = bytes + (size_t)(part * d.tp_rank) * row_bytes;
            out->rows = part;
            out->cols = cols;
        } else {
            RS_CHECK(!rs_dtype_is_quant(d.dtype),
                     "tensor " + d.name + ": a quantized 1-D tensor cannot be split");
            RS_CHECK(cols % d.tp_size == 0, "tensor " + d.name + ": output dim not divisible by tp size");
            const int64_t part = cols / d.tp_size;
            out->data = bytes + (size_t)(part * d.tp_rank) * rs_dtype_size(d.dtype);
            out->rows = 1;
            out->cols = part;
        }
        return;
    }
    RS_CHECK(d.shape.size() == 2, "tensor " + d.name + ": a row split needs a 2-D tensor");
    RS_CHECK(cols % d.tp_size == 0, "tensor " + d.name + ": input dim not divisible by tp size");
    const int64_t part = cols / d.tp_size;
    // Quantized rows split on block boundaries only: each rank's slice must be whole blocks.
    RS_CHECK(part % be == 0, "tensor " + d.name + " [" + std::to_string(rows) + ", " + std::to_string(cols) +
                                 "] (" + rs_dtype_name(d.dtype) + ", blocks of " + std::to_string(be) +
                                 ") cannot split its " + std::to_string(cols) + " columns into " +
                                 std::to_string(d.tp_size) +
                                 " whole-block parts: use a tp size whose slice (" + std::to_string(part) +
                                 ") is a multiple of " + std::to_string(be));
    const size_t part_bytes = rs_row_bytes(d.dtype, part);
    out->owned.resize((size_t)rows * part_bytes);
    for (int64_t r = 0; r < rows; r++) {
        std::memcpy(out->owned.data() + (size_t)r * part_bytes,
                    bytes + (size_t)r * row_bytes + part_bytes * d.tp_rank, part_bytes);
    }
    out->data = out->owned.data();
    out->rows = rows;
    out->cols = part;
}

// Replaces a plain weight by its block-quantized copy (--quantization): row by row through f32.
static void quantize_weight(const rs_tensor_desc &d, rs_weight *w) {
    RS_CHECK(rs_dtype_is_quant(d.quantize) && !rs_dtype_is_quant(w->dtype),
             "tensor " + d.name + ": cannot quantize " + rs_dtype_name(w->dtype) + " to " +
                 rs_dtype_name(d.quantize));
    const int64_t be = rs_dtype_block_elems(d.quantize);
    RS_CHECK(w->cols % be == 0, "tensor " + d.name + ": rows of " + std::to_string(w->cols) +
                                    " values are not whole " + rs_dtype_name(d.quantize) + " blocks of " +
                                    std::to_string(be));
    const size_t row_bytes = rs_row_bytes(d.quantize, w->cols);
    std::vector<uint8_t> q((size_t)w->rows * row_bytes);
    std::vector<float> row((size_t)w->cols);
    const size_t src_row_bytes = w->row_bytes();
    for (int64_t r = 0; r < w->rows; r++) {
        rs_dequantize_row(w->dtype, (const uint8_t *)w->data + (size_t)r * src_row_bytes, row.data(),
                          w->cols);
        rs_quantize_row(d.quantize, row.data(), q.data() + (size_t)r * row_bytes, w->cols);
    }
    w->owned = std::move(q);
    w->data = w->owned.data();
    w->dtype = d.quantize;
}

rs_weight_store *rs_weight_store_init(const std::vector<rs_tensor_desc> &descs) {
    std::unique_ptr<rs_weight_store> store(new rs_weight_store());
    std::map<std::string, rs_mapped_file *> by_path;
    for (const auto &d : descs) {
        rs_mapped_file *f;
        auto it = by_path.find(d.file);
        if (it == by_path.end()) {
            store->files.emplace_back(map_file(d.file));
            f = store->files.back().get();
            by_path[d.file] = f;
        } else {
            f = it->second;
        }
        RS_CHECK(d.offset <= f->size && d.nbytes <= f->size - d.offset,
                 "tensor " + d.name + " lies past the end of " + d.file);
        rs_weight w;
        rs_weight_from_bytes(d, (const uint8_t *)f->addr + d.offset, &w);
        if (d.quantize != d.dtype) quantize_weight(d, &w);
        store->bytes += w.nbytes();
        // Moving keeps an owned buffer's heap pointer, so `data` stays valid.
        store->weights[d.name] = std::move(w);
    }
    return store.release();
}

void rs_weight_store_free(rs_weight_store *store) {
    if (!store) return;
    for (auto &f : store->files) {
        if (f->addr) munmap(f->addr, f->size);
    }
    delete store;
}

const rs_weight *rs_weight_store_find(const rs_weight_store *store, const std::string &name) {
    auto it = store->weights.find(name);
    return it == store->weights.end() ? nullptr : &it->second;
}

const rs_weight &rs_weight_store_get(const rs_weight_store *store, const std::string &name) {
    const rs_weight *w = rs_weight_store_find(store, name);
    RS_CHECK(w != nullptr, "missing tensor " + name);
    return *w;
}

std::vector<float> rs_weight_to_f32(const rs_weight &w) {
    std::vector<float> out((size_t)(w.rows * w.cols));
    const size_t row_bytes = rs_row_bytes(w.dtype, w.cols);
    for (int64_t r = 0; r < w.rows; r++)
        rs_dequantize_row(w.dtype, (const uint8_t *)w.data + (size_t)r * row_bytes, out.data() + r * w.cols,
                          w.cols);
    return out;
}
