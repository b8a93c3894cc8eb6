// Plain-loop kernels: the scalar fallback and the reference the SIMD kernels are tested against.
#include "kernels.h"

static void matmul_ref(const float *x, int n_tokens, int ldx, const rs_weight &w, int r0, int r1,
                       const float *bias, float *y, int ldy, bool accumulate) {
    const int k_dim = (int)w.cols;
    for (int t = 0; t < n_tokens; t++) {
        const float *xt = x + (size_t)t * ldx;  // [K]
        for (int r = r0; r < r1; r++) {
            const uint8_t *row = (const uint8_t *)w.data + (size_t)r * k_dim * rs_dtype_size(w.dtype);  // [K]
            float sum = 0.0f;
            for (int k = 0; k < k_dim; k++) sum += xt[k] * rs_load_f32(row, w.dtype, k);
            if (bias) sum += bias[r];
            float *out = y + (size_t)t * ldy + r;
            *out = accumulate ? *out + sum : sum;
        }
    }
}

static float dot_ref(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

static void axpy_ref(float a, const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

const rs_kernels_i rs_kernels_ref = {"reference", matmul_ref, dot_ref, axpy_ref};
