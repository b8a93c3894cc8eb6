{
  "targets": [
    {
      "target_name": "radixserve_engine",
      "sources": [
        "src/binding/addon.cc",
        "src/binding/grammar-binding.cc",
        "src/binding/kv-transfer-binding.cc",
        "src/binding/kv-transfer-tcp-binding.cc",
        "src/binding/quant-binding.cc",
        "src/native/backend-cpu.cc",
        "src/native/bandwidth-probe.cc",
        "src/native/collective-cpu.cc",
        "src/native/collective-nccl.cc",
        "src/native/engine.cc",
        "src/native/forward.cc",
        "src/native/kernels.cc",
        "src/native/kernels-avx2.cc",
        "src/native/kernels-avx512.cc",
        "src/native/kernels-quant-avx2.cc",
        "src/native/kernels-quant-avx512.cc",
        "src/native/kernels-ref.cc",
        "src/native/kv-pool.cc",
        "src/native/kv-transfer-auth.cc",
        "src/native/kv-transfer-crc.cc",
        "src/native/kv-transfer-pool.cc",
        "src/native/kv-transfer-tcp.cc",
        "src/native/kv-transfer-tcp-queue.cc",
        "src/native/model.cc",
        "src/native/quant.cc",
        "src/native/sampling.cc",
        "src/native/speculative.cc",
        "src/native/thread-pool.cc",
        "src/native/weights.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "src",
        "<!(node ../../scripts/build-llguidance.mjs --print-include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "<!@(node ../../scripts/build-llguidance.mjs --print-define)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-pthread"],
      "ldflags": ["-pthread"],
      "libraries": ["-ldl", "<!@(node ../../scripts/build-llguidance.mjs --print-link)"]
    }
  ]
}
