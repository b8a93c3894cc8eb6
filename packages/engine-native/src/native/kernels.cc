#include "kernels.h"

static bool cpu_has_avx512() {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

static bool cpu_has_avx2() {
#if defined(__x86_64__)
    // F16C is present on every AVX2 CPU shipped (Haswell, Zen and later).
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

const rs_kernels_i &rs_kernels_select(const std::string &want) {
    if (want == "auto") {
        if (cpu_has_avx512()) return rs_kernels_avx512;
        if (cpu_has_avx2()) return rs_kernels_avx2;
        return rs_kernels_ref;
    }
    if (want == "avx512") {
        RS_CHECK(cpu_has_avx512(),
                 "this CPU has no AVX-512 (F/BW/VL): use simd 'auto', 'avx2' or 'reference'");
        return rs_kernels_avx512;
    }
    if (want == "avx2") {
        RS_CHECK(cpu_has_avx2(), "this CPU has no AVX2/FMA: use simd 'auto' or 'reference'");
        return rs_kernels_avx2;
    }
    if (want == "reference" || want == "scalar") return rs_kernels_ref;
    RS_CHECK(false, "unknown simd level '" + want + "': use auto, avx512, avx2 or reference");
}
