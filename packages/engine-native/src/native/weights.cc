#include "weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

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
    const size_t es = rs_dtype_size(d.dtype);
    RS_CHECK(rows > 0 && cols > 0 && (uint64_t)(rows * cols) * es == d.nbytes,
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
        const int64_t n = d.shape.size() == 2 ? rows : cols;
        RS_CHECK(n % d.tp_size == 0, "tensor " + d.name + ": output dim not divisible by tp size");
        const int64_t part = n / d.tp_size;
        if (d.shape.size() == 2) {
            out->data = bytes + (size_t)(part * d.tp_rank) * (size_t)cols * es;
            out->rows = part;
            out->cols = cols;
        } else {
            out->data = bytes + (size_t)(part * d.tp_rank) * es;
            out->rows = 1;
            out->cols = part;
        }
        return;
    }
    RS_CHECK(d.shape.size() == 2, "tensor " + d.name + ": a row split needs a 2-D tensor");
    RS_CHECK(cols % d.tp_size == 0, "tensor " + d.name + ": input dim not divisible by tp size");
    const int64_t part = cols / d.tp_size;
    out->owned.resize((size_t)(rows * part) * es);
    for (int64_t r = 0; r < rows; r++) {
        std::memcpy(out->owned.data() + (size_t)(r * part) * es,
                    bytes + ((size_t)(r * cols + part * d.tp_rank)) * es, (size_t)part * es);
    }
    out->data = out->owned.data();
    out->rows = rows;
    out->cols = part;
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
    for (size_t i = 0; i < out.size(); i++) out[i] = rs_load_f32(w.data, w.dtype, i);
    return out;
}
