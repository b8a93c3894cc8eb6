// Shared pieces of the KV data plane's N-API files (kv-transfer-binding.cc, kv-transfer-tcp-binding.cc).
#pragma once

#include <napi.h>

#include <memory>

#include "native/kv-transfer-pool.h"

struct rs_engine;

// A region as JS holds it (an External). close() drops this reference; operations in flight hold
// their own, so the mapping goes when the last of them settles.
struct region_handle {
    std::shared_ptr<rs_kv_region> region;
};

// The region behind a handle; throws a JS error when it is not one or was closed.
std::shared_ptr<rs_kv_region> rs_region_of(const Napi::Value &v);
// Wraps a region (taking ownership) as an External handle.
Napi::Value rs_region_wrap(Napi::Env env, rs_kv_region *r);
Napi::Value rs_region_wrap_shared(Napi::Env env, std::shared_ptr<rs_kv_region> r);

// The engine behind an engine handle (addon.cc's accessor; throws a JS error when freed).
rs_engine *rs_binding_engine_of(const Napi::Value &v);

void rs_kv_transfer_register(Napi::Env env, Napi::Object exports,
                             rs_engine *(*get_engine)(const Napi::Value &));
void rs_kv_transfer_register_tcp(Napi::Env env, Napi::Object exports);
