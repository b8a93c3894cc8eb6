// Grammar-constrained decoding: llguidance's tokenizer and matchers (grammar-binding.cc).
#pragma once

#include <napi.h>

void rs_grammar_register(Napi::Env env, Napi::Object exports);
