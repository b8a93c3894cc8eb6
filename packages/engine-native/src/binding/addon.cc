#include <napi.h>

Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
    return exports;
}

NODE_API_MODULE(radixserve_engine, init_addon)
