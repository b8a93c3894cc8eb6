// Public surface of @radixserve/core: the pure code every process shares (no native addon, no
// Redis or NATS): proto contract, errors, block hashing and the radix cache, tokenizer and chat
// templates, the model maker, logging and metric names, cluster-internal authentication.
export * from "./auth/index.js";
export * from "./cache/index.js";
export * from "./errors/index.js";
export * from "./log/index.js";
export * from "./metrics/index.js";
export * from "./model/index.js";
export * from "./process/index.js";
export * from "./proto/index.js";
export * from "./tokenizer/index.js";
export * from "./tracing/index.js";
