// Test hooks of the quantized-weight code (quant-binding.cc).
#pragma once

#include <napi.h>

void rs_quant_register(Napi::Env env, Napi::Object exports);
